from tests.e2e.conftest import system  # noqa: F401 - the same running system, one per session
