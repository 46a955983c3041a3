"""CLI commands: ``tui`` (the committee's terminal UI) and ``web`` (the same app in a browser)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("tui", help="the ethics committee's terminal UI: against the review server as your token's person "
                                   "(ETHICS_REVIEW_URL + token, or `login`), or in direct mode as --as USER")
    p.add_argument("--screen", default="queue", help="screen to start on: queue or dashboard (default: queue)")
    p.set_defaults(func=cmd_tui)

    p = sub.add_parser("web", help="serve the terminal UI in a browser (textual-serve)")
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
        from review.errors import InvalidInput

        raise InvalidInput(f"--screen {ctx.args.screen!r} is not one of: {', '.join(sorted(names))}")
    EthicsReviewApp(ctx.client, me.username, start=ctx.args.screen).run()
    return 0


def web_command(ctx: Any) -> tuple[str, dict[str, str]]:
    """The shell command each browser session runs (this interpreter, ``tui``) and the environment it needs.

    The user and database go through the environment, not the command line, so a
    PostgreSQL password never shows in the process list.
    """
    from review.services.common import ACTOR_ENV

    command = shlex.join([sys.executable, "-m", "review.cli.main", "tui"])
    return command, {ACTOR_ENV: ctx.actor, "ETHICS_REVIEW_DATABASE_URL": ctx.db.url}


def cmd_web(ctx: Any) -> int:
    from textual_serve.server import Server

    from review.services.users import get_user

    get_user(ctx.db, ctx.actor)
    command, env = web_command(ctx)
    os.environ.update(env)  # inherited by every session textual-serve starts
    server = Server(command, host=ctx.args.host, port=ctx.args.port, title="Ethics review", public_url=ctx.args.public_url)
    server.serve()
    return 0
