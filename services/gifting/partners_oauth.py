"""The OAuth2 token endpoint of partner clients (client credentials grant, RFC 6749 §4.4) and
the JWKS of the keys that sign partner access tokens. Its errors are RFC 6749 §5.2's
(`{"error": "invalid_client", ...}`), the format every OAuth client library reads; every
other partner route answers problem+json."""

import asyncio
import base64
import binascii
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus
from uuid import uuid4

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from eventkit.deps import ClockDep, PoolDep
from services.gifting import partners_store as store
from services.gifting.partners_decide import SCOPES, TOKEN_SECONDS, claims, granted_scopes
from services.gifting.partners_tokens import hash_secret, jwks, mint, secret_matches

router = APIRouter(prefix="/oauth", tags=["partners (OAuth2)"])
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Checked against when the client_id is unknown, so that answer takes as long as a wrong secret.
_DECOY = hash_secret("decoy")

OAuthErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
]


class OAuthError(BaseModel):
    """RFC 6749 §5.2."""

    error: OAuthErrorCode
    error_description: str | None = None


class AccessTokenResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2ln",
                    "token_type": "Bearer",
                    "expires_in": TOKEN_SECONDS,
                    "scope": "coins:debit coins:credit",
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds")
    scope: str


class JWKSet(BaseModel):
    keys: list[dict[str, str]]


def oauth_error(code: str, description: str, status: int = 400) -> JSONResponse:
    headers = dict(NO_STORE)
    if code == "invalid_client":
        status = 401
        headers["WWW-Authenticate"] = 'Basic realm="coinstream-partners"'
    return JSONResponse(
        {"error": code, "error_description": description}, status_code=status, headers=headers
    )


def _error_response(description: str, *codes: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": OAuthError.model_json_schema(),
                "examples": {c: {"value": {"error": c, "error_description": c}} for c in codes},
            }
        },
    }


TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {
                            "type": "string",
                            "description": "Space-separated subset of the client's scopes"
                            f" ({', '.join(SCOPES)}); omitted: all of them",
                        },
                        "client_id": {"type": "string", "description": "Unless sent by Basic"},
                        "client_secret": {"type": "string", "description": "Unless by Basic"},
                    },
                },
                "example": {"grant_type": "client_credentials", "scope": "coins:debit"},
            }
        },
    }
}


def client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    """(client_id, secret) from HTTP Basic (RFC 6749 §2.3.1: each form-urlencoded) or from
    the form; None when neither, or both, are used."""
    header = request.headers.get("authorization", "")
    in_form = "client_id" in form or "client_secret" in form
    if header[:6].lower() == "basic ":
        if in_form:
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        return (unquote_plus(client_id), unquote_plus(secret)) if sep else None
    if header or not in_form:
        return None
    return form.get("client_id", ""), form.get("client_secret", "")


@router.post(
    "/token",
    summary="Exchange partner client credentials for an access token",
    response_model=AccessTokenResponse,
    openapi_extra=TOKEN_FORM,
    responses={
        400: _error_response(
            "RFC 6749 §5.2", "invalid_request", "unsupported_grant_type", "invalid_scope"
        ),
        401: _error_response(
            "RFC 6749 §5.2: the client could not be authenticated", "invalid_client"
        ),
    },
)
async def token(request: Request, pool: PoolDep, now: ClockDep) -> JSONResponse:
    """`grant_type=client_credentials`, the client authenticated by HTTP Basic (preferred) or by
    `client_id` and `client_secret` form fields, an optional `scope`. Answers a JWT access token
    valid for 5 minutes (EdDSA, `kid` in its header, keys at `GET /oauth/jwks`) carrying the
    scopes and the client's secret version: after a rotation, tokens issued under the old
    secret are refused."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        return oauth_error("invalid_request", f"the body must be {FORM}")
    try:
        pairs = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        return oauth_error("invalid_request", "the body is not UTF-8")
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 §3.2: parameters must not repeat
            return oauth_error("invalid_request", f"{name} sent twice")
        form[name] = value
    credentials = client_credentials(request, form)
    if credentials is None:
        return oauth_error(
            "invalid_client", "authenticate by HTTP Basic or by client_id and client_secret, once"
        )
    client_id, secret = credentials
    async with pool.acquire() as conn:
        found = await store.credentials(conn, client_id)
    stored = found[1] if found else _DECOY
    if not await asyncio.to_thread(secret_matches, secret, stored) or found is None:
        return oauth_error("invalid_client", "unknown client or wrong secret")
    client = found[0]
    grant = form.get("grant_type")
    if grant is None:
        return oauth_error("invalid_request", "grant_type is required")
    if grant != "client_credentials":
        return oauth_error("unsupported_grant_type", "only client_credentials")
    scopes = granted_scopes(form.get("scope"), client.scopes)
    if scopes is None:
        return oauth_error("invalid_scope", f"this client may ask for: {' '.join(client.scopes)}")
    access = mint(request.app.state.settings, claims(client, scopes, now, str(uuid4())))
    return JSONResponse(
        AccessTokenResponse(
            access_token=access, expires_in=TOKEN_SECONDS, scope=" ".join(scopes)
        ).model_dump(),
        headers=NO_STORE,
    )


@router.get("/jwks", summary="The public keys that verify partner access tokens")
async def get_jwks(request: Request) -> JWKSet:
    """Public (RFC 7517). During a signing-key rotation both keys are listed: the new one
    signs, the old one verifies until the tokens it signed have expired."""
    return JWKSet.model_validate(jwks(request.app.state.settings))
