"""CLI commands: ``tui`` (the committee's terminal UI) and ``web`` (the same app in a browser)."""

from __future__ import annotations

import argparse
from typing import Any

from review.errors import InvalidInput


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("tui", help="the ethics committee's terminal UI: against the review server as your token's person "
                                   "(ETHICS_REVIEW_URL + token, or `login`), or in direct mode as --as USER")
    p.add_argument("--screen", default="queue", help="screen to start on: queue or dashboard (default: queue)")
    p.set_defaults(func=cmd_tui)

    p = sub.add_parser("web", help="serve the terminal UI in a browser (textual-serve): each person signs in with their API "
                                   "token and acts as themselves")
    p.add_argument("--host", default="localhost", help="interface to listen on (default: localhost)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--public-url", default=None, help="URL the browser uses, when behind a proxy")
    p.set_defaults(func=cmd_web)


def cmd_tui(ctx: Any) -> int:
    from tui.app import EthicsReviewApp
    from tui.registry import screens

    me = ctx.client.whoami()  # fail fast, in the terminal: unknown user, bad token, missing schema, server down
    names = {e.name for e in screens()}
    if ctx.args.screen not in names:
        raise InvalidInput(f"--screen {ctx.args.screen!r} is not one of: {', '.join(sorted(names))}")
    EthicsReviewApp(ctx.client, me.username, start=ctx.args.screen).run()
    return 0


def web_authenticator(ctx: Any):
    """``token -> (username, environment of that person's TUI process)``.

    Remote mode: the review server checks the token (``/api/v1/me``) and the person's TUI
    process talks to the server with it. Direct mode: the token is checked against this
    database and the TUI process opens the database as that user. The database URL goes
    through the environment, not the command line, so a password never shows in the
    process list.
    """
    target = ctx.remote_target
    if target is not None:
        url = target[0]

        def remote(token: str) -> tuple[str, dict[str, str]]:
            from review.client.remote import RemoteClient

            client = RemoteClient(url, token)
            try:
                me = client.whoami()
            finally:
                client.close()
            return me.username, {"ETHICS_REVIEW_URL": url, "ETHICS_REVIEW_TOKEN": token}

        return remote
    db = ctx.db

    def direct(token: str) -> tuple[str, dict[str, str]]:
        from review.services.tokens import authenticate

        who = authenticate(db, token)
        return who.username, {"ETHICS_REVIEW_DATABASE_URL": db.url, "ETHICS_REVIEW_USER": who.username, "ETHICS_REVIEW_DIRECT": "1",
                              "ETHICS_REVIEW_HOME": str(db.data_dir)}

    return direct


def cmd_web(ctx: Any) -> int:
    from review.web.server import WebServer

    if ctx.args.actor:
        raise InvalidInput("web: --as is refused; each browser session signs in with its own token and acts as that person")
    if not ctx.remote:
        from review.store.migrate import is_current

        if not is_current(ctx.db):
            raise InvalidInput("the database schema is not current: run `ethics-review init` first")
    server = WebServer(authenticate=web_authenticator(ctx), host=ctx.args.host, port=ctx.args.port, public_url=ctx.args.public_url,
                       session_hours=ctx.settings.web_session_hours)
    server.serve()
    return 0
