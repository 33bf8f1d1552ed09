"""Load benchmark: `python -m bench` (see docs/performance.md). Not a test: it prints figures."""
