"""Typed errors and their RFC 9457 problem+json responses, mapped once for every service, and
the OpenAPI document made to say which of them each route really answers."""

from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class DomainError(Exception):
    """Base of every refusal a service gives; subclasses set status, code and title."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Missing or invalid bearer token"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class IdempotencyKeyReused(DomainError):
    status, code, title = (
        409,
        "idempotency-key-reused",
        "Idempotency-Key already used with a different request",
    )


class MissingIdempotencyKey(DomainError):
    # 400, as the IETF Idempotency-Key draft says for a missing key: the header is a required
    # parameter like any other (and OpenAPI tools expect a 4xx of the 400/422 kind for one).
    status, code, title = 400, "idempotency-key-required", "Idempotency-Key header required"


class MalformedBody(DomainError):
    # FastAPI's answer to a body it cannot even decode (not UTF-8); invalid JSON is a 422.
    status, code, title = 400, "malformed-body", "Request body could not be parsed"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload-too-large", "Request body too large"


class InvalidRequest(DomainError):
    status, code, title = 422, "validation-error", "Request failed validation"


class ServiceUnavailable(DomainError):
    status, code, title = 503, "service-unavailable", "A dependency is unavailable"
    headers = {"Retry-After": "1"}


# Required headers whose absence is a problem of its own rather than a validation error.
MISSING_HEADER: dict[str, type[DomainError]] = {"idempotency-key": MissingIdempotencyKey}


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"https://coinstream.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry documenting the problems a route can answer with."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        _merge(out, err.status, _documented(err))
    return out


def _documented(err: type[DomainError], **extra: Any) -> dict[str, Any]:
    """A raw OpenAPI response object for one problem, with its example (and its headers, e.g.
    WWW-Authenticate on 401, Retry-After on 429 and 503)."""
    example = {
        "type": f"https://coinstream.dev/problems/{err.code}",
        "title": err.title,
        "status": err.status,
        "detail": err.title,
        **extra,
    }
    entry: dict[str, Any] = {
        "description": err.title,
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "examples": {err.code: {"summary": err.title, "value": example}},
            }
        },
    }
    if err.headers:
        entry["headers"] = {
            name: {"schema": {"type": "string"}, "example": value}
            for name, value in err.headers.items()
        }
    return entry


def _merge(responses: dict, status: int | str, entry: dict[str, Any]) -> None:
    """Adds one problem's response object to `responses`, beside the problems already there
    with the same status (examples and headers side by side, descriptions joined)."""
    have = responses.get(status) or responses.get(str(status))
    if have is None:
        responses[status] = entry
        return
    titles = [t for t in have.get("description", "").split("; ") if t]
    titles += [t for t in entry["description"].split("; ") if t not in titles]
    have["description"] = "; ".join(titles)
    mine = have.setdefault("content", {}).setdefault(
        PROBLEM_JSON, {"schema": {"$ref": "#/components/schemas/Problem"}}
    )
    examples = mine.setdefault("examples", {})
    for code, example in entry["content"][PROBLEM_JSON]["examples"].items():
        examples.setdefault(code, example)
    if entry.get("headers"):
        have.setdefault("headers", {}).update(entry["headers"])


def _required_headers(operation: dict[str, Any]) -> set[str]:
    return {
        p["name"].lower()
        for p in operation.get("parameters", [])
        if p.get("in") == "header" and p.get("required")
    }


HEALTH = ("/healthz", "/readyz")  # their own JSON status body, and no dependency to refuse


def _auth_problems(operation: dict[str, Any]) -> list[type[DomainError]]:
    """401 wherever a bearer token is checked (even where it is optional: a bad one is
    refused), 403 where the requirement names a role (eventkit.auth's AdminDep: `admin`)."""
    requirements = operation.get("security", [])
    out: list[type[DomainError]] = []
    if any(requirements):
        out.append(Unauthorized)
    if any(scopes for req in requirements for scopes in req.values()):
        out.append(Forbidden)
    return out


def document(app: FastAPI) -> None:
    """Makes the OpenAPI document say what the handlers below really answer, on every route
    without each route having to list it: 422 as problem+json with its `errors` (FastAPI
    documents its own HTTPValidationError body), 400 and 413 on routes that take a body, 400 on
    routes that require a header of MISSING_HEADER, 401/403 on routes with a security
    requirement, 503 on routes that need a dependency."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.model_json_schema()
        )
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:  # FastAPI's own body, replaced by what _invalid answers
                    ours = responses["422"]
                    ours.get("content", {}).pop("application/json", None)
                    ours["description"] = "; ".join(
                        t
                        for t in ours.get("description", "").split("; ")
                        if t and t != "Validation Error"
                    )
                    _merge(
                        responses,
                        "422",
                        _documented(
                            InvalidRequest,
                            errors=[
                                {
                                    "loc": ["body", "field"],
                                    "msg": "Field required",
                                    "type": "missing",
                                }
                            ],
                        ),
                    )
                errors = _auth_problems(operation)
                errors += [
                    MISSING_HEADER[h] for h in _required_headers(operation) if h in MISSING_HEADER
                ]
                if "requestBody" in operation:
                    errors += [MalformedBody, PayloadTooLarge]
                if path not in HEALTH:
                    errors.append(ServiceUnavailable)
                for err in dict.fromkeys(errors):
                    _merge(responses, str(err.status), _documented(err))
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"#/components/schemas/{unused}" not in str(schema["paths"]):
                schema["components"]["schemas"].pop(unused, None)
        app.openapi_schema = schema
        return schema

    # FastAPI's documented way to extend the document is to replace app.openapi on the instance;
    # its class declares openapi as a method, which a checker refuses to see reassigned.
    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, request.url.path, exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        for e in errors:
            if (
                e["type"] == "missing"
                and len(e["loc"]) == 2
                and e["loc"][0] == "header"
                and str(e["loc"][1]).lower() in MISSING_HEADER
            ):
                return await _domain(request, MISSING_HEADER[str(e["loc"][1]).lower()]())
        return problem_response(
            InvalidRequest.status,
            InvalidRequest.code,
            InvalidRequest.title,
            f"{len(errors)} invalid field(s)",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(asyncpg.DataError)
    async def _unstorable(request: Request, exc: asyncpg.DataError):
        # e.g. a NUL character or an out-of-range number that passed schema validation but
        # that PostgreSQL refuses as data: bad input, and the transaction changed nothing.
        return problem_response(
            422,
            "unstorable-input",
            "Request contains unstorable data",
            type(exc).__name__,
            request.url.path,
        )

    @app.exception_handler(OSError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.exceptions.OperatorInterventionError)
    async def _unavailable(request: Request, exc: Exception):
        # The database is restarting or unreachable: nothing was committed; retrying with the
        # same Idempotency-Key is safe.
        return problem_response(
            ServiceUnavailable.status,
            ServiceUnavailable.code,
            ServiceUnavailable.title,
            type(exc).__name__,
            request.url.path,
            ServiceUnavailable.headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400:  # the framework's only 400: a body it could not decode
            return problem_response(
                MalformedBody.status,
                MalformedBody.code,
                MalformedBody.title,
                str(exc.detail),
                request.url.path,
            )
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette names only the first route on the path
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return problem_response(
            exc.status_code,
            f"http-{exc.status_code}",
            str(exc.detail),
            None,
            request.url.path,
            headers,
        )


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path (one route per method
    in FastAPI, so several routes share a path)."""
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
