"""Background runs on the server (``review.api.app.Background``, shared by audits and evals): one thread per run at
most, a second start refused while the first lives, and what stopped a run kept for its /progress with its problem
type (so the remote client raises the same error, and the CLI exits with the same code)."""

import threading

import pytest

from review.api.app import Background
from review.errors import Conflict, InvalidInput, error_for


def _until_stopped(bg: Background, run_id: int) -> tuple[bool, str | None, str | None]:
    for _ in range(500):
        running, message, kind = bg.status(run_id)
        if not running:
            return running, message, kind
        threading.Event().wait(0.01)
    raise AssertionError("the background run did not stop")


def test_a_second_start_of_a_live_run_is_refused_even_when_requests_race():
    bg = Background("audit run", "being scanned")
    release = threading.Event()
    started, refused = [], []

    def request() -> None:
        try:
            bg.start(7, lambda: (started.append(1), release.wait(5)))
        except Conflict as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(refused) == 7 and "audit run 7 is already being scanned on the server" in refused[0]
    assert bg.status(7)[0] is True
    release.set()
    assert _until_stopped(bg, 7) == (False, None, None) and started == [1]
    bg.start(7, lambda: None)  # a finished run may be started again (resume)
    assert _until_stopped(bg, 7) == (False, None, None)


def test_what_stopped_a_run_is_reported_with_its_problem_type_and_cleared_by_a_new_start():
    bg = Background("eval run", "being run")

    def bad() -> None:
        raise InvalidInput("records.jsonl line 3: field 'id' is missing; give every record an id")

    bg.start(1, bad)
    running, message, kind = _until_stopped(bg, 1)
    assert message == "records.jsonl line 3: field 'id' is missing; give every record an id" and kind == "invalid-input"
    assert isinstance(error_for(kind, message), InvalidInput)

    def broken() -> None:
        raise ZeroDivisionError("division by zero")

    bg.start(1, broken)
    assert _until_stopped(bg, 1)[1:] == ("ZeroDivisionError: division by zero", "internal")
    bg.start(1, lambda: None)
    assert _until_stopped(bg, 1) == (False, None, None)


@pytest.mark.parametrize("run_id", [1, 2])
def test_runs_are_independent(run_id):
    bg = Background("audit run", "being scanned")
    gate = threading.Event()
    bg.start(1, lambda: gate.wait(5))
    bg.start(2, lambda: gate.wait(5))  # another run: not refused
    assert bg.status(run_id)[0] is True
    gate.set()
    assert _until_stopped(bg, run_id) == (False, None, None)
