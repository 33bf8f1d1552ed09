"""Payload models, one module per emitting service."""
