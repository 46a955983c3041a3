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
from typing import Any, Callable, Sequence

from review.cli import output
from review.errors import InvalidInput, ReviewError

COMMAND_MODULES = (
    "review.cli.core",
    "review.cli.policy_cmds",
    "review.cli.bank_cmds",
    "review.cli.demo",
    "review.cli.bench",
    "review.cli.flows_cmds",
    "review.cli.audit_cmds",
    "review.cli.eval_cmds",
    "review.cli.tui_cmds",
    "review.cli.server_cmds",
)


@dataclass
class Ctx:
    """What a command handler gets: the parsed arguments, the settings, and (lazily) a client.

    ``client`` is remote when a review server is configured (``ETHICS_REVIEW_URL`` or
    ``ethics-review login``) and ``--database`` is not given: every use case then goes
    through the API as the person the token proves, and ``--as`` is refused. Otherwise it
    is local (direct mode): this process opens the database and ``--as`` /
    ``$ETHICS_REVIEW_USER`` is a self-declared identity (a single-user machine, or the
    first admin's bootstrap). ``db`` is for the commands that only make sense where the
    database is (``init``, ``server``, ``serve``, ``demo``, ``bench``).
    """

    args: argparse.Namespace
    json: bool
    settings: Any = None

    def __post_init__(self) -> None:
        if self.settings is None:
            from review.settings import load_settings

            self.settings = load_settings()  # a bad setting stops here, before anything is written

    @property
    def remote_target(self) -> tuple[str, str | None] | None:
        """(server URL, token) in remote mode, else None."""
        if getattr(self.args, "database", None) or self.settings.direct:
            return None
        from review.cli.credentials import stored_credentials

        s = self.settings
        stored = stored_credentials(s)
        if s.url:
            if s.token:
                return s.url, s.token.get_secret_value()
            return s.url, stored[1] if stored and stored[0] == s.url else None
        return stored

    @property
    def remote(self) -> bool:
        return self.remote_target is not None

    @property
    def client(self):
        if not hasattr(self, "_client"):
            target = self.remote_target
            if target is not None:
                from review.client import connect_remote

                if self.args.actor:
                    raise InvalidInput("--as is refused against a review server: the server knows who you are from your token "
                                       "(drop --as; `ethics-review whoami` shows who that is)")
                url, token = target
                if not token:
                    raise InvalidInput(f"no token for the review server at {url}: set ETHICS_REVIEW_TOKEN or run `ethics-review login`")
                self._client = connect_remote(url, token)
            else:
                from review.client.local import LocalClient

                self._client = LocalClient(self.db, self.args.actor or self.settings.user, database_param=self.args.database,
                                           audit_engines={"prefect": _prefect_audit})
        return self._client

    @property
    def db(self):
        if not hasattr(self, "_db"):
            if self.remote:
                raise InvalidInput(f"`{self.args.command}` works on the database itself: run it on the review server's machine "
                                   "(or pass --database URL for direct mode)")
            from review.store.db import Database

            s = self.settings
            self._db = Database(self.args.database or s.database, data_dir=s.home, evidence_dir=s.evidence_dir)
        return self._db

    @property
    def actor(self) -> str:
        """The acting user's name (remote: asked of the server once)."""
        if not hasattr(self, "_actor"):
            c = self.client
            self._actor = c.whoami().username if c.mode == "remote" else c.actor
        return self._actor

    @property
    def actor_or_none(self) -> str | None:
        return None if self.remote else (self.args.actor or self.settings.user)


def _prefect_audit(db: Any, run_id: int, actor: str | None, **where: Any) -> None:
    """``audit run --engine prefect`` in direct mode: the aigc_content_audit flow (``where``: workers, cluster, dask_workers)."""
    from flows.content_audit import run_audit

    run_audit(run_id, db.url, actor, **where)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="ethics-review",
        description="AI-ethics product risk review: gated reviews, policy packs, content-safety audits.",
    )
    parser.add_argument("--as", dest="actor", metavar="USER",
                        help="direct mode only: acting user (default: $ETHICS_REVIEW_USER); self-declared, so for a single-user "
                             "machine or bootstrapping the first admin. Against a review server your token says who you are")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--database", metavar="URL", default=None,
                        help="direct mode on this database URL (default: $ETHICS_REVIEW_DATABASE_URL or a SQLite file; "
                             "ignored settings: ETHICS_REVIEW_URL)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _json_everywhere(parser)
    return parser


def _json_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--json`` also after the subcommand (``ethics-review list --json``). Its default is SUPPRESS, so a
    subcommand that does not see it leaves the top-level ``--json`` as given."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                if "--json" not in child._option_string_actions:
                    child.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable JSON output")
                _json_everywhere(child)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[Ctx], int | None] = args.func
    ctx: Ctx | None = None
    try:
        ctx = Ctx(args=args, json=bool(args.json))
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
        from review.store.db import database_hint

        friendly = database_hint(exc)
        if friendly:
            output.err(friendly)
            return 8
        if os.environ.get("ETHICS_REVIEW_DEBUG"):
            raise
        output.err(f"internal error: {type(exc).__name__}: {exc} (set ETHICS_REVIEW_DEBUG=1 for the traceback)")
        return 70
    finally:
        if ctx is not None and hasattr(ctx, "_client"):
            ctx._client.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
