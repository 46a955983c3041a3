"""`ethics-review web`: the committee's terminal UI in a browser, one login per person.

textual-serve runs one TUI process per browser session; this server puts a login in front:

* ``GET /login`` shows a form for a personal API token; ``POST /login`` checks it (against
  the review server's ``/api/v1/me`` in remote mode, against the database in direct mode)
  and starts a session: a random id in a cookie that is ``HttpOnly``, ``SameSite=Strict``
  and ``Secure`` when served over https. The token never reaches the browser again.
* Every page, the websocket and downloads need a live session; each browser session's TUI
  process runs as the person who logged in (remote: with their token; direct: as their
  user), never as the person who started the server.
* ``Host`` must be one this server answers to (DNS rebinding) and the websocket's and the
  login form's ``Origin`` must be this server's own (a page elsewhere cannot drive a
  session in the committee member's browser).
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

log = logging.getLogger("ethics-review.web")
COOKIE = "er_session"
#: Who a TUI process acts as and where: set per session, never inherited from the server.
IDENTITY_ENV = ("ETHICS_REVIEW_URL", "ETHICS_REVIEW_TOKEN", "ETHICS_REVIEW_USER", "ETHICS_REVIEW_DATABASE_URL", "ETHICS_REVIEW_DIRECT")


@dataclass
class Session:
    username: str
    env: dict[str, str]  # what this person's TUI process gets (their identity)
    expires: float


class _SessionApp(AppService):
    """A TUI process with one session's identity in its environment."""

    def __init__(self, *args: Any, session_env: dict[str, str], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._session_env = session_env

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        for key in IDENTITY_ENV:
            env.pop(key, None)  # nothing of the server operator's identity or credentials leaks into a session
        env.update(self._session_env)
        return env


LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Ethics review: sign in</title>
<style>body{{font-family:system-ui,sans-serif;background:#0c181f;color:#eee;display:flex;justify-content:center;padding-top:10vh}}
form{{background:#12232d;padding:2em;border-radius:6px;width:28em}}input{{width:100%;padding:.5em;margin:.5em 0 1em;box-sizing:border-box}}
button{{padding:.6em 1.5em}}.err{{color:#ff8a80}}</style></head>
<body><form method="post" action="/login"><h2>Ethics review</h2>
<p>Sign in with your personal API token (an admin creates one with <code>ethics-review token create USER</code>).</p>
{error}<label for="token">API token</label><input id="token" name="token" type="password" autocomplete="off" autofocus required>
<button type="submit" id="sign-in">Sign in</button></form></body></html>"""


class WebServer(Server):
    """textual-serve's server with a login, per-person sessions and Origin / Host checks."""

    def __init__(self, *, authenticate: Callable[[str], tuple[str, dict[str, str]]], host: str = "localhost", port: int = 8000,
                 public_url: str | None = None, session_hours: int = 8, extra_hosts: tuple[str, ...] = ()) -> None:
        """``authenticate(token)`` -> (username, environment for that person's TUI process), or raises ReviewError."""
        command = shlex.join([sys.executable, "-m", "review.cli.main", "tui"])
        super().__init__(command, host=host, port=port, title="Ethics review", public_url=public_url,
                         templates_path=Path(__file__).with_name("templates"))
        self.authenticate = authenticate
        self.session_seconds = session_hours * 3600
        self.sessions: dict[str, Session] = {}
        origin = urlsplit(self.public_url)
        self.origin = f"{origin.scheme}://{origin.netloc}"
        self.secure = origin.scheme == "https"
        self.allowed_hosts = {origin.netloc, f"{host}:{port}", *extra_hosts}
        if host in ("localhost", "127.0.0.1"):
            self.allowed_hosts |= {f"localhost:{port}", f"127.0.0.1:{port}"}

    # ---- the app -------------------------------------------------------------------------
    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get("/login", self.handle_login_form)
        app.router.add_post("/login", self.handle_login)
        app.router.add_post("/logout", self.handle_logout)
        app.middlewares.append(self._guard)
        return app

    def initialize_logging(self) -> None:  # quieter than textual-serve's banner and debug log
        logging.basicConfig(level=logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        print(f"ethics-review web on {self.public_url} (sign in with a personal API token)", flush=True)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if request.host not in self.allowed_hosts:
            return web.Response(status=421, text=f"this server does not answer to host {request.host!r}")
        path = request.path
        if path.startswith("/static/") or path == "/login":
            return await handler(request)
        session = self.session_of(request)
        if session is None:
            if path == "/ws":
                return web.Response(status=401, text="sign in first")
            raise web.HTTPFound("/login")
        request["session"] = session
        return await handler(request)

    def session_of(self, request: web.Request) -> Session | None:
        sid = request.cookies.get(COOKIE)
        s = self.sessions.get(sid or "")
        if s is None:
            return None
        if s.expires < time.time():
            self.sessions.pop(sid or "", None)
            return None
        return s

    def _same_origin(self, request: web.Request) -> bool:
        return request.headers.get("Origin") == self.origin

    # ---- login ---------------------------------------------------------------------------
    async def handle_login_form(self, request: web.Request, error: str = "") -> web.Response:
        body = LOGIN_PAGE.format(error=f'<p class="err">{html.escape(error)}</p>' if error else "")
        return web.Response(text=body, content_type="text/html", headers=_page_headers())

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            return web.Response(status=403, text="cross-origin sign-in refused")
        form = await request.post()
        token = str(form.get("token", "")).strip()
        from review.errors import ReviewError

        try:
            username, env = await asyncio.get_running_loop().run_in_executor(None, self.authenticate, token)
        except ReviewError as exc:
            log.warning("web sign-in refused: %s", exc.message)
            resp = await self.handle_login_form(request, "That token was not accepted (unknown, expired or revoked).")
            resp.set_status(401)
            return resp
        sid = secrets.token_urlsafe(32)
        self.sessions[sid] = Session(username, env, time.time() + self.session_seconds)
        resp = web.HTTPFound("/")
        resp.set_cookie(COOKIE, sid, httponly=True, secure=self.secure, samesite="Strict", path="/", max_age=self.session_seconds)
        raise resp

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            return web.Response(status=403, text="cross-origin sign-out refused")
        self.sessions.pop(request.cookies.get(COOKIE, ""), None)
        resp = web.HTTPFound("/login")
        resp.del_cookie(COOKIE, path="/")
        raise resp

    # ---- the terminal --------------------------------------------------------------------
    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if not self._same_origin(request):
            log.warning("cross-origin websocket refused (Origin %r)", request.headers.get("Origin"))
            raise web.HTTPForbidden(text="cross-origin websocket refused")
        session: Session = request["session"]
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        app_service: AppService | None = None
        try:
            await websocket.prepare(request)
            app_service = _SessionApp(self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                      close=websocket.close, download_manager=self.download_manager, debug=self.debug,
                                      session_env=session.env)
            await app_service.start(width, height)
            try:
                await self._process_messages(websocket, app_service)
            finally:
                await app_service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # one session failing must not take the server down
            log.exception(error)
        finally:
            if app_service is not None:
                await app_service.stop()
        return websocket


def _int(value: str | None, default: int) -> int:
    try:
        return max(10, min(1000, int(value or default)))
    except ValueError:
        return default


def _page_headers() -> dict[str, str]:
    return {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
            "Referrer-Policy": "same-origin"}  # no-referrer would make the form post Origin: null
