"""Coinstream's event contract: the envelope, every payload, the topics. Versioned; see README."""
