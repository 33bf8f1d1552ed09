"""Peers measured in the same run, on the same PostgreSQL server and machine."""
