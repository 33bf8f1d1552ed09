"""Signed webhooks between a payment/payout provider and a service: HMAC-SHA256 over the raw
body with a shared secret, checked in constant time before the body is parsed, and a Deliver
function (how a provider's notification reaches the service: HTTP, or in-process via ASGI)."""

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import asyncpg
import httpx
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

SIGNATURE_HEADER = "X-Sandbox-Signature"
log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 300  # between a sandbox provider's redeliveries


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def verified(
    secret: str,
    raw: bytes,
    header: str | None,
    model: type[M],
    bad_signature: Callable[[], Exception],
    bad_body: Callable[[str], Exception],
) -> M:
    """The body parsed as `model`, once its signature checks out (never parse unsigned input);
    raises bad_signature() or bad_body(reason) otherwise."""
    if not signature_ok(secret, raw, header):
        raise bad_signature()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise bad_body(
            "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
            )
        ) from None


Deliver = Callable[[bytes, dict[str, str]], Awaitable[int]]


async def post_signed(deliver: Deliver, secret: str, body: bytes) -> int | None:
    """Delivers `body` signed with `secret`; the answer's status, or None when the receiver
    could not be reached or failed (a sandbox provider then retries later)."""
    headers = {SIGNATURE_HEADER: sign(secret, body), "content-type": "application/json"}
    try:
        return await deliver(body, headers)
    except Exception as exc:  # noqa: BLE001 - the service is down or failed: retry later
        log.warning("signed delivery failed (%r); will retry", exc)
        return None


async def deliver_claimed(
    pool: asyncpg.Pool, deliver: Deliver, secret: str, rows: Iterable, record: str
) -> int:
    """Posts each claimed row's signed `body`, in order, and records the answer with `record`
    ($1 the row's `id`, $2 the status or NULL, $3 whether it was a 2xx: delivered). A provider
    sandbox's redelivery step; returns how many were answered 2xx."""
    answered = 0
    for row in rows:
        status = await post_signed(deliver, secret, bytes(row["body"]))
        done = status is not None and 200 <= status < 300
        answered += done
        await pool.execute(record, row["id"], status, done)
    return answered


def http_deliver(client: httpx.AsyncClient, url: str) -> Deliver:
    """POSTs the body with its headers to `url`; returns the HTTP status."""

    async def deliver(body: bytes, headers: dict[str, str]) -> int:
        return (await client.post(url, content=body, headers=headers)).status_code

    return deliver


def asgi_deliver(app, path: str) -> Deliver:
    """POSTs to an ASGI app in-process: the same middleware, signature check and route as over
    HTTP, without a socket or an HTTP client (a provider simulator living inside the service)."""

    async def deliver(body: bytes, headers: dict[str, str]) -> int:
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": raw_headers,
            "client": ("127.0.0.1", 0),
            "server": ("localhost", 80),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 500

        async def receive() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    return deliver
