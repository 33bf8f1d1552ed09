"""Typed errors and their RFC 9457 problem+json responses, mapped once for every service."""

from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    status, code, title = 409, "idempotency-key-reused", \
        "Idempotency-Key already used with a different request"


class MissingIdempotencyKey(DomainError):
    status, code, title = 428, "idempotency-key-required", "Idempotency-Key header required"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload-too-large", "Request body too large"


def problem_response(status: int, code: str, title: str, detail: str | None = None,
                     instance: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body = {"type": f"https://coinstream.dev/problems/{code}", "title": title, "status": status,
            "detail": detail, "instance": instance, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry documenting the problems a route can answer with."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = out.setdefault(err.status, {"description": "", "content": {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}, "examples": {}}}})
        entry["description"] = "; ".join(filter(None, [entry["description"], err.title]))
        entry["content"][PROBLEM_JSON]["examples"][err.code] = {"summary": err.title, "value": {
            "type": f"https://coinstream.dev/problems/{err.code}", "title": err.title,
            "status": err.status, "detail": err.title}}
        if err.headers:  # e.g. WWW-Authenticate on 401, Retry-After on 429
            entry.setdefault("headers", {}).update(
                {name: {"schema": {"type": "string"}, "example": value}
                 for name, value in err.headers.items()})
    return out


def _documented(status: int, code: str, title: str, **extra: Any) -> dict[str, Any]:
    """A raw OpenAPI response object for one problem (for responses FastAPI adds itself)."""
    example = {"type": f"https://coinstream.dev/problems/{code}", "title": title,
               "status": status, "detail": title, **extra}
    return {"description": title, "content": {PROBLEM_JSON: {
        "schema": {"$ref": "#/components/schemas/Problem"},
        "examples": {code: {"summary": title, "value": example}}}}}


def document(app: FastAPI) -> None:
    """Makes the OpenAPI document say what the handlers below really answer: 422 as
    problem+json with its `errors` (FastAPI documents its own HTTPValidationError body), 413 on
    routes that take a body, 503 on routes that need a dependency."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.model_json_schema())
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:  # FastAPI's body, merged into a route's own 422s
                    invalid = _documented(
                        422, "validation-error", "Request failed validation",
                        errors=[{"loc": ["body", "field"], "msg": "Field required",
                                 "type": "missing"}])
                    own = responses["422"].get("content", {}).get(PROBLEM_JSON)
                    if own:
                        own.setdefault("examples", {}).update(
                            invalid["content"][PROBLEM_JSON]["examples"])
                        invalid["content"][PROBLEM_JSON] = own
                        invalid["description"] = "; ".join(filter(None, [
                            responses["422"].get("description", "").replace(
                                "Validation Error", "").strip("; "),
                            invalid["description"]]))
                    responses["422"] = invalid
                if "requestBody" in operation:
                    responses.setdefault("413", _documented(
                        413, PayloadTooLarge.code, PayloadTooLarge.title))
                if path not in ("/healthz", "/readyz"):
                    responses.setdefault("503", _documented(
                        503, "service-unavailable", "A dependency is unavailable"))
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"#/components/schemas/{unused}" not in str(schema["paths"]):
                schema["components"]["schemas"].pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        return problem_response(exc.status, exc.code, exc.title, exc.detail, request.url.path,
                                exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                  for e in exc.errors()]
        return problem_response(422, "validation-error", "Request failed validation",
                                f"{len(errors)} invalid field(s)", request.url.path,
                                errors=errors)

    @app.exception_handler(asyncpg.DataError)
    async def _unstorable(request: Request, exc: asyncpg.DataError):
        # e.g. a NUL character or an out-of-range number that passed schema validation but
        # that PostgreSQL refuses as data: bad input, and the transaction changed nothing.
        return problem_response(422, "unstorable-input", "Request contains unstorable data",
                                type(exc).__name__, request.url.path)

    @app.exception_handler(OSError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.exceptions.OperatorInterventionError)
    async def _unavailable(request: Request, exc: Exception):
        # The database is restarting or unreachable: nothing was committed; retrying with the
        # same Idempotency-Key is safe.
        return problem_response(503, "service-unavailable", "A dependency is unavailable",
                                type(exc).__name__, request.url.path, {"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return problem_response(exc.status_code, f"http-{exc.status_code}", str(exc.detail),
                                None, request.url.path, getattr(exc, "headers", None))
