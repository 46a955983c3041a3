"""`ethics-review web` as a real process on 127.0.0.1 (direct mode on a SQLite file with the demo's
people, one token each), and what the tests need to talk to it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from review.bench.scratch import free_port, stop, wait_until_up
from review.store.db import Database
from tests.api.conftest import World, make_world


@dataclass
class WebProcess:
    url: str
    world: World
    proc: subprocess.Popen


@pytest.fixture
def web(_sqlite_template: Path, tmp_path: Path) -> Iterator[WebProcess]:
    shutil.copyfile(_sqlite_template, tmp_path / "web.db")
    db = Database(f"sqlite:///{tmp_path / 'web.db'}", data_dir=tmp_path)
    world = make_world(db)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHICS_REVIEW_")}
    env.update(ETHICS_REVIEW_HOME=str(tmp_path), ETHICS_REVIEW_DATABASE_URL=db.url, ETHICS_REVIEW_USER="admin",
               PYTHONUNBUFFERED="1", TEXTUAL_ANIMATIONS="none")
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "review.cli.main", "web", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/login", proc, log=tmp_path / "web.log")
    yield WebProcess(url, world, proc)
    stop(proc, timeout=10)
    db.dispose()
