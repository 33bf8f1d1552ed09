"""Shared plumbing for every Coinstream service. No business rules live here."""
