"""Signed webhooks between a payment/payout provider and a service: HMAC-SHA256 over the raw
body with a shared secret, checked in constant time before the body is parsed, and a Deliver
function (how a provider's notification reaches the service: HTTP, or in-process via ASGI)."""

import hashlib
import hmac
from collections.abc import Awaitable, Callable

import httpx

SIGNATURE_HEADER = "X-Sandbox-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)


Deliver = Callable[[bytes, dict[str, str]], Awaitable[int]]


def http_deliver(client: httpx.AsyncClient, url: str) -> Deliver:
    """POSTs the body with its headers to `url`; returns the HTTP status."""
    async def deliver(body: bytes, headers: dict[str, str]) -> int:
        return (await client.post(url, content=body, headers=headers)).status_code
    return deliver
