"""Entry point: ``ethics-review``. Parses arguments, runs one command, turns errors into exit codes.

Every command module has ``register(subparsers)`` and sets ``func(ctx)`` on its parsers.
A ``ReviewError`` becomes one line on stderr and its exit code; the database is left as
it was because every use case is one transaction.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from review.cli import output
from review.errors import ReviewError

COMMAND_MODULES = (
    "review.cli.core",
    "review.cli.policy_cmds",
    "review.cli.demo",
    "review.cli.bench",
    "review.cli.flows_cmds",
    "review.cli.audit_cmds",
    "review.cli.tui_cmds",
)


@dataclass
class Ctx:
    args: argparse.Namespace
    json: bool

    @property
    def db(self):
        if not hasattr(self, "_db"):
            from review.store.db import Database

            self._db = Database(self.args.database)
        return self._db

    @property
    def actor(self) -> str:
        from review.services.common import acting_username

        return acting_username(self.args.actor)

    @property
    def actor_or_none(self) -> str | None:
        from review.services.common import ACTOR_ENV

        return self.args.actor or os.environ.get(ACTOR_ENV)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="ethics-review",
        description="AI-ethics product risk review: gated reviews, policy packs, content-safety audits.",
    )
    parser.add_argument("--as", dest="actor", metavar="USER", help="acting user (default: $ETHICS_REVIEW_USER)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--database", metavar="URL", default=None, help="database URL (default: $ETHICS_REVIEW_DATABASE_URL or a SQLite file)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Ctx(args=args, json=bool(args.json))
    func: Callable[[Ctx], int | None] = args.func
    try:
        return int(func(ctx) or 0)
    except ReviewError as exc:
        output.err(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        output.err("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        friendly = _database_hint(exc)
        if friendly:
            output.err(friendly)
            return 8
        if os.environ.get("ETHICS_REVIEW_DEBUG"):
            raise
        output.err(f"internal error: {type(exc).__name__}: {exc} (set ETHICS_REVIEW_DEBUG=1 for the traceback)")
        return 70


def _database_hint(exc: Exception) -> str | None:
    text = str(exc)
    try:
        import sqlalchemy.exc as sa_exc
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.ProgrammingError)):
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            return "the database has no schema yet: run `ethics-review init` first"
        if "could not connect" in text or "Connection refused" in text or "unable to open database" in text:
            return f"cannot open the database ({text.splitlines()[0]}); check ETHICS_REVIEW_DATABASE_URL"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
