"""CLI commands: the review server, API tokens, login / logout, whoami, config show."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from review.cli import output
from review.errors import InvalidInput


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("server", help="run the review server: the HTTP API (/api/v1, docs at /docs) that owns the database")
    p.add_argument("--host", default=None, help="interface (default: $ETHICS_REVIEW_SERVER_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: $ETHICS_REVIEW_SERVER_PORT or 8765)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1; about one per core)")
    p.add_argument("--threads", type=int, default=None,
                   help="requests each worker handles at once (default: $ETHICS_REVIEW_SERVER_THREADS or 4)")
    p.add_argument("--tls-cert", default=None, metavar="PEM", help="serve HTTPS with this certificate (with --tls-key)")
    p.add_argument("--tls-key", default=None, metavar="PEM")
    p.set_defaults(func=cmd_server)

    tok = sub.add_parser("token", help="personal API tokens").add_subparsers(dest="token_cmd", required=True, metavar="ACTION")
    p = tok.add_parser("create", help="create a token for USER (admin); shown once, stored only as a hash")
    p.add_argument("username")
    p.add_argument("--expires", default="90d", help="lifetime: 90d (default), 12h, 2w; at most 366d")
    p.add_argument("--scope", default="write", choices=("read", "write"), help="read (GET only) or write (default)")
    p.add_argument("--name", default="", help="what it is for (a laptop, a CI job)")
    p.set_defaults(func=cmd_token_create)
    p = tok.add_parser("list", help="tokens: yours, or everyone's (admin)")
    p.add_argument("--user", default=None, help="only this user's (admin)")
    p.set_defaults(func=cmd_token_list)
    p = tok.add_parser("revoke", help="revoke a token by id (its owner or an admin)")
    p.add_argument("token_id")
    p.set_defaults(func=cmd_token_revoke)

    p = sub.add_parser("login", help="store the review server's URL and your token (a 0600 file) for later commands")
    p.add_argument("url", nargs="?", default=None, help="the server (default: $ETHICS_REVIEW_URL)")
    p.add_argument("--token-stdin", action="store_true", help="read the token from standard input instead of prompting")
    p.set_defaults(func=cmd_login)
    p = sub.add_parser("logout", help="forget the stored server URL and token")
    p.set_defaults(func=cmd_logout)
    p = sub.add_parser("whoami", help="who you act as, and where (direct mode or a review server)")
    p.set_defaults(func=cmd_whoami)

    cfg = sub.add_parser("config", help="settings").add_subparsers(dest="config_cmd", required=True, metavar="ACTION")
    p = cfg.add_parser("show", help="the effective settings (secrets masked) and where they come from")
    p.set_defaults(func=cmd_config_show)


def cmd_server(ctx: Any) -> int:
    import uvicorn

    from review.api.app import create_app

    s = ctx.settings
    if bool(ctx.args.tls_cert) != bool(ctx.args.tls_key):
        raise InvalidInput("--tls-cert and --tls-key go together (a PEM certificate and its key)")
    db = ctx.db
    from review.store.migrate import is_current

    if not is_current(db):
        raise InvalidInput("the database schema is not current: run `ethics-review init` first (it migrates to the latest schema)")
    host, port = ctx.args.host or s.server_host, ctx.args.port or s.server_port
    scheme = "https" if ctx.args.tls_cert else "http"
    if ctx.args.workers < 1:
        raise InvalidInput(f"--workers {ctx.args.workers}: give 1 or more processes")
    if ctx.args.threads is not None:
        if not 1 <= ctx.args.threads <= 256:
            raise InvalidInput(f"--threads {ctx.args.threads}: give 1 to 256 requests at once per worker")
        s = s.model_copy(update={"server_threads": ctx.args.threads})
    output.say(f"review server on {scheme}://{host}:{port} (API /api/v1, docs /docs); database {_safe(db.url)}; "
               f"{ctx.args.workers} worker process(es), {s.server_threads} request(s) at once each")
    from review.api.transport import NoDelayProtocol

    common = dict(host=host, port=port, log_level="warning", ssl_certfile=ctx.args.tls_cert, ssl_keyfile=ctx.args.tls_key,
                  proxy_headers=False, server_header=False, http=NoDelayProtocol)
    if ctx.args.workers == 1:
        uvicorn.run(create_app(db, s), **common)
    else:
        import os

        # Each worker process builds its app from the environment; the database URL goes there, not on a command line.
        os.environ["ETHICS_REVIEW_DATABASE_URL"] = db.url
        os.environ["ETHICS_REVIEW_SERVER_THREADS"] = str(s.server_threads)
        uvicorn.run("review.api.app:app_from_env", factory=True, workers=ctx.args.workers, **common)
    return 0


def _safe(url: str) -> str:
    from review.settings import mask_url

    return mask_url(url)


def cmd_token_create(ctx: Any) -> int:
    new = ctx.client.create_token(ctx.args.username, scope=ctx.args.scope, expires=ctx.args.expires, name=ctx.args.name)
    i = new.info
    if ctx.json:
        output.emit_json({"id": i.id, "username": i.username, "scope": i.scope, "expires_at": i.expires_at.isoformat(), "token": new.token})
        return 0
    output.say(f"token {i.id} for {i.username} ({i.scope}, expires {output.when(i.expires_at)}):")
    print(new.token)
    output.say("it is shown only now and stored only as a hash: keep it in a secret store "
               "(`ethics-review login` keeps it in a file only you can read)", style="dim")
    return 0


def cmd_token_list(ctx: Any) -> int:
    rows = ctx.client.list_tokens(ctx.args.user)
    if ctx.json:
        output.emit_json([{**_plain(t), "state": t.state} for t in rows])
        return 0
    output.table("API tokens", ["id", "user", "name", "scope", "state", "created", "by", "expires", "last used"],
                 [(t.id, t.username, t.name or "-", t.scope, t.state, output.when(t.created_at), t.created_by, output.when(t.expires_at),
                   output.when(t.last_used_at)) for t in rows])
    return 0


def _plain(t: Any) -> dict[str, Any]:
    from review.client.codec import encode

    return encode(t)


def cmd_token_revoke(ctx: Any) -> int:
    t = ctx.client.revoke_token(ctx.args.token_id)
    if ctx.json:
        output.emit_json({**_plain(t), "state": t.state})
    else:
        output.say(f"token {t.id} of {t.username} revoked")
    return 0


def cmd_login(ctx: Any) -> int:
    from review.cli.credentials import store_credentials
    from review.client.remote import RemoteClient
    from review.settings import _http_url

    raw = ctx.args.url or ctx.settings.url
    if not raw:
        raise InvalidInput("which server? `ethics-review login https://review.example.org` (or set ETHICS_REVIEW_URL)")
    try:
        url = _http_url(raw, example="https://review.example.org")
    except ValueError as exc:
        raise InvalidInput(f"{raw!r}: {exc}") from None
    if ctx.args.token_stdin:
        token = sys.stdin.readline().strip()
    elif ctx.settings.token:
        token = ctx.settings.token.get_secret_value()
    else:
        token = getpass.getpass(f"API token for {url} (input hidden): ").strip()
    if not token:
        raise InvalidInput("no token given; an admin creates one with `ethics-review token create USER`")
    client = RemoteClient(url, token)
    try:
        me = client.whoami()  # proves the token before it is kept
    finally:
        client.close()
    path = store_credentials(ctx.settings, url, token)
    if ctx.json:
        output.emit_json({"url": url, "username": me.username, "credentials": str(path)})
    else:
        output.say(f"logged in to {url} as {me.username} ({me.team}; {me.roles}); token kept in {path} (mode 0600)")
    return 0


def cmd_logout(ctx: Any) -> int:
    from review.cli.credentials import credentials_path, forget_credentials

    gone = forget_credentials(ctx.settings)
    if ctx.json:
        output.emit_json({"forgotten": gone})
    else:
        output.say(f"removed {credentials_path(ctx.settings)}" if gone else "no stored credentials")
    return 0


def cmd_whoami(ctx: Any) -> int:
    client = ctx.client
    me = client.whoami()
    where = getattr(client, "url", None) or _safe(ctx.db.url)
    if ctx.json:
        output.emit_json({"username": me.username, "team": me.team, "roles": me.roles, "mode": client.mode, "where": where})
    elif client.mode == "remote":
        output.say(f"{me.username} ({me.team}; {me.roles}) on the review server {where}, as your token proves")
    else:
        output.say(f"{me.username} ({me.team}; {me.roles}) in direct mode on {where}: self-declared (--as / ETHICS_REVIEW_USER)")
    return 0


def cmd_config_show(ctx: Any) -> int:
    s = ctx.settings
    values = s.masked()
    mode = "remote" if ctx.remote else "direct"
    if ctx.json:
        output.emit_json({"mode": mode, "config_file": str(s.config_file) if s.config_file else None, "settings": values})
        return 0
    from review.settings import env_name

    output.say(f"mode: {mode}; config file: {s.config_file or '(none)'}")
    output.table(None, ["setting", "variable", "value"], [(k, env_name(k), "-" if v is None else v) for k, v in values.items()])
    return 0
