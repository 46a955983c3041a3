"""API fixtures: the demo people with a token each, a TestClient, and a real uvicorn server.

* ``world``: a migrated database (SQLite and PostgreSQL) with the demo's people and one
  write token per person (``world.token[username]``).
* ``api``: FastAPI's TestClient over ``create_app`` (no network).
* ``live_server``: the same app under a real uvicorn server on 127.0.0.1 (a free port),
  in a thread of this process; ``live_server.url`` is its base URL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from review.bench.scratch import free_port
from review.demo.seed import ADMIN, CHAIR, REVIEWERS, seed_people
from review.services import tokens
from review.settings import load_settings
from review.store.db import Database

USERS = (ADMIN, CHAIR, *REVIEWERS, "geo.lead", "dev.lead", "health.lead")


@dataclass
class World:
    db: Database
    token: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token[user]}"}


def make_world(db: Database) -> World:
    seed_people(db)
    w = World(db)
    for user in USERS:
        w.token[user] = tokens.create_token(db, user, actor=ADMIN, name="tests").token
    return w


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


@pytest.fixture
def sqlite_world(sqlite_db: Database) -> World:
    return make_world(sqlite_db)


def settings_for(db: Database, **over: Any):
    return load_settings(home=db.data_dir, **over)


@pytest.fixture
def api(world: World):
    from fastapi.testclient import TestClient

    from review.api.app import create_app

    with TestClient(create_app(world.db, settings_for(world.db))) as client:
        yield client


@pytest.fixture
def sqlite_api(sqlite_world: World):
    from fastapi.testclient import TestClient

    from review.api.app import create_app

    with TestClient(create_app(sqlite_world.db, settings_for(sqlite_world.db))) as client:
        yield client


@dataclass
class LiveServer:
    url: str
    server: Any
    thread: threading.Thread


def start_uvicorn(app: Any) -> LiveServer:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread)


def stop_uvicorn(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)


@pytest.fixture
def live_server(world: World) -> Iterator[LiveServer]:
    from review.api.app import create_app

    # the stand-in model servers listen on 127.0.0.1, on a free port each
    live = start_uvicorn(create_app(world.db, settings_for(world.db, eval_endpoints="http://127.0.0.1:*")))
    yield live
    stop_uvicorn(live)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
