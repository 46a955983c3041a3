"""The README's CLI tour runs as written, from an empty directory to a reopened review and its dossier.

Every line of the tour's shell block runs under ``bash -e`` (the first failing command fails the test,
with the output so far), with the installed ``ethics-review`` on PATH and a fresh home directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_script() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## CLI tour\n")
    body = text.index("```sh\n", start) + len("```sh\n")
    return text[body:text.index("```\n", body)]


def test_the_cli_tour_runs_as_written(tmp_path: Path) -> None:
    script = tour_script()
    assert "decide 1 approve" in script and "followup record" in script and "report review" in script
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETHICS_REVIEW_", "PREFECT_API_URL"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path),
               ETHICS_REVIEW_HOME=str(tmp_path / "home"), NO_COLOR="1", COLUMNS="160")
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the tour stopped (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "quorum" in done.stdout or "approval 1 of 2" in done.stdout  # the release waited for the chair
    assert "reopened at INITIATION" in done.stdout
    assert "audit log intact" in done.stdout
    assert (tmp_path / "dossier.html").read_text().startswith("<!doctype html>")
