"""The review server's HTTP API: ``/api/v1`` over the use cases, OpenAPI docs at ``/docs``.

One process owns the database. Each request is authenticated (``review.api.auth``) and
served by a ``LocalClient`` acting as the person its credential proves, so the rules
(roles, segregation of duties, recusal, quorum) apply to that person and the audit trail
names them. Errors keep the use cases' one-line messages, as ``application/problem+json``
with the status the exit-code table implies (invalid input 422, not found 404, not allowed
403, illegal move / gate rule / conflict 409, not authenticated 401) and the CLI's exit code.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from review.api.auth import Authenticator, RateLimiter, TooManyRequests
from review.api.oidc import OidcConfig, OidcVerifier
from review.client.codec import encode
from review.client.local import LocalClient
from review.errors import Conflict, InvalidInput, ReviewError, problem_of
from review.services.tokens import Principal
from review.settings import Settings
from review.store.db import Database

log = logging.getLogger("ethics-review.server")
API = "/api/v1"
PROBLEM_TYPE = "urn:ethics-review:problem:"
TITLES = {
    "invalid-input": "Invalid input", "not-found": "Not found", "not-allowed": "Not allowed", "illegal-move": "Illegal lifecycle move",
    "conflict": "Conflict", "gate-rule": "Blocked by a gate rule", "not-authenticated": "Not authenticated",
    "unavailable": "Unavailable", "refused": "Refused", "too-many-requests": "Too many requests", "internal": "Internal error",
}


@dataclass
class ServerState:
    """What the routes share: the database, settings, the authenticator, background audit and eval runs."""

    db: Database
    settings: Settings
    auth: Authenticator
    feedback_limiter: RateLimiter
    audits: Background = field(default_factory=lambda: Background("audit run", "being scanned"))
    evals: Background = field(default_factory=lambda: Background("eval run", "being run"))


class Background:
    """Runs of one kind worked on by server threads, one thread per run at most: ``start`` refuses a second while
    the first lives (``Conflict``), and what stopped a run is kept for its ``/progress`` (``status``)."""

    def __init__(self, what: str, doing: str):
        self.what, self.doing = what, doing
        self._lock = threading.Lock()  # one check-and-start at a time: two requests never both start a run
        self._threads: dict[int, threading.Thread] = {}
        self._errors: dict[int, tuple[str, str]] = {}  # run -> (problem type, message)

    def start(self, run_id: int, work: Callable[[], object]) -> None:
        """``work()`` on a new thread for run ``run_id``; a ``ReviewError`` or any other exception it raises is
        reported through ``status`` (and logged when unexpected); the command's resume continues where it stopped."""
        with self._lock:
            if (t := self._threads.get(run_id)) is not None and t.is_alive():
                raise Conflict(f"{self.what} {run_id} is already {self.doing} on the server; poll its progress")
            self._errors.pop(run_id, None)

            def target() -> None:
                try:
                    work()
                except ReviewError as exc:
                    self._errors[run_id] = (problem_of(exc)[1], exc.message)
                except Exception as exc:
                    log.exception("%s %s failed", self.what, run_id)
                    self._errors[run_id] = ("internal", f"{type(exc).__name__}: {exc}")

            t = threading.Thread(target=target, name=f"{self.what.replace(' ', '-')}-{run_id}", daemon=True)
            self._threads[run_id] = t
            t.start()

    def status(self, run_id: int) -> tuple[bool, str | None, str | None]:
        """(a thread is working on it, what stopped it, that error's problem type)."""
        t = self._threads.get(run_id)
        kind, message = self._errors.get(run_id, (None, None))
        return bool(t and t.is_alive()), message, kind


def problem(status: int, kind: str, detail: str, *, exit_code: int, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": PROBLEM_TYPE + kind, "title": TITLES.get(kind, kind), "status": status, "detail": detail, "exit_code": exit_code}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def ok(value: Any, status: int = 200) -> JSONResponse:
    return _Json(encode(value), status_code=status)


async def body_chunks(request: Request, max_bytes: int, *, what: str, limit: str | None = None, fix: str = "") -> AsyncIterator[bytes]:
    """The request body chunk by chunk as it arrives, refused (``InvalidInput``, HTTP 400) once it is
    over ``max_bytes``: at once by its declared Content-Length, else when the excess arrives."""
    limit = limit or f"{max_bytes} byte"
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise InvalidInput(f"{what}: {declared} bytes is over the {limit} limit{fix}")
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise InvalidInput(f"{what}: over the {limit} limit{fix}")
        yield chunk


async def read_body(request: Request, max_bytes: int, *, what: str) -> bytes:
    """The whole (small) request body in memory, refused once over ``max_bytes``."""
    return b"".join([chunk async for chunk in body_chunks(request, max_bytes, what=what)])


def page_limit(n: int, top: int = 10_000) -> int:
    """A list route's ``limit`` parameter, checked."""
    if not 1 <= n <= top:
        raise InvalidInput(f"limit {n} must be between 1 and {top}")
    return n


class _Json(JSONResponse):
    """JSON through orjson (a dependency of Prefect) when present: the same text, a few times faster."""

    def render(self, content: Any) -> bytes:
        try:
            import orjson
        except ImportError:  # pragma: no cover
            return super().render(content)
        return orjson.dumps(content)


def oidc_verifier(settings: Settings) -> OidcVerifier | None:
    if not settings.oidc_issuer:
        return None
    return OidcVerifier(OidcConfig(settings.oidc_issuer, settings.oidc_audience or "", settings.oidc_user_claim, settings.oidc_jwks_url,
                                   tuple(settings.oidc_algorithms.split(","))))


def create_app(db: Database, settings: Settings, *, oidc: OidcVerifier | None = None) -> FastAPI:
    """The API app over ``db``. ``oidc``: a verifier to use (default: from the settings, if an issuer is set)."""
    from review.api import routes_audits, routes_evals, routes_followups, routes_people, routes_reviews

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Requests run on the thread pool; a few threads per process serve more requests per second than
        # many (measured with `bench api`: 4 threads, 150/s; 40 threads, 100/s), because a use case that
        # holds the audit chain's head waits less for this process's interpreter lock.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server_threads
        yield

    app = FastAPI(lifespan=lifespan, title="ethics-review", version="1", docs_url="/docs", redoc_url=None, openapi_url="/openapi.json",
                  description="AI-ethics product risk review: gated reviews, decisions, controls, follow-ups, content-safety audits. "
                              "Every endpoint but `POST /api/v1/feedback` needs `Authorization: Bearer TOKEN`.")
    app.state.er = ServerState(db, settings, Authenticator(db, oidc if oidc is not None else oidc_verifier(settings),
                                                           token_cache_seconds=settings.token_cache_seconds),
                               RateLimiter(settings.feedback_per_minute))

    @app.exception_handler(ReviewError)
    async def _review_error(_request: Request, exc: ReviewError) -> JSONResponse:
        if isinstance(exc, TooManyRequests):
            return problem(429, "too-many-requests", exc.message, exit_code=exc.exit_code, headers={"Retry-After": str(exc.retry_after)})
        status, kind = problem_of(exc)
        headers = {"WWW-Authenticate": 'Bearer realm="ethics-review"'} if status == 401 else None
        return problem(status, kind, exc.message, exit_code=exc.exit_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "request"
        return problem(422, "invalid-input", f"{where}: {e.get('msg', 'invalid')}", exit_code=InvalidInput.exit_code)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        from review.store.db import database_hint

        hint = database_hint(exc)
        if hint:
            return problem(503, "unavailable", hint, exit_code=8)
        log.exception("internal error")
        return problem(500, "internal", f"internal error: {type(exc).__name__}; the server log has the details", exit_code=70)

    for module in (routes_people, routes_reviews, routes_followups, routes_audits, routes_evals):
        app.include_router(module.router, prefix=API)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """The app for a uvicorn worker process: settings from the environment (``server --workers N``)."""
    from review.settings import load_settings

    s = load_settings()
    return create_app(Database(s.database, data_dir=s.home, evidence_dir=s.evidence_dir), s)


# ---- dependencies ------------------------------------------------------------------------------
def state(request: Request) -> ServerState:
    return request.app.state.er


async def principal(request: Request) -> Principal:
    """Who is calling. A dependency that is a coroutine runs on the event loop: a token this worker
    proved a moment ago costs no thread hop and no query; any other goes to the thread pool."""
    auth = state(request).auth
    who = auth.cached(request)
    return who if who is not None else await run_in_threadpool(auth.principal, request)


async def client(request: Request) -> LocalClient:
    """The use cases, acting as the authenticated person."""
    return LocalClient(state(request).db, (await principal(request)).username)
