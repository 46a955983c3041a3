"""Pilot-driven tests of the evaluations screen (key 5): the committee draws an eval run's spot-check sample and labels
the sampled answers with the keys; the labels, the rounds and the verdict are read back through the services. The
model is a real HTTP server on 127.0.0.1 (``review.bench.chat_server.ChatServer``); the database is SQLite."""

from __future__ import annotations

from review.bench.chat_server import ChatServer
from review.demo.catalog import TEAM_SUBMITTERS
from review.services import eval_runs, eval_spot
from tests.tui.conftest import EVAL_PRODUCT, make_eval_run, settle
from tui.app import EthicsReviewApp
from tui.modals import ErrorModal
from tui.screens.evals import EvaluationsScreen
from tui.widgets.evalspot import render

SIZE = (150, 45)
A, B, C = "amara.okafor", "lucas.martin", "priya.nair"
TEAM = TEAM_SUBMITTERS["game-art"]


def _labels(db, run_id: int, reviewer: str) -> dict[int, tuple[str, str, int]]:
    """reviewer's labels as (safety, refusal, round) by item, read through the service."""
    return {i.seq: (i.my_label.safety, i.my_label.refusal, i.my_label.round)
            for i in eval_spot.sample_items(db, run_id, reviewer) if i.my_label}


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


def _row(screen: EvaluationsScreen, run_id: int) -> list[str]:
    return [str(c) for c in screen.run_table.get_row(str(run_id))]


async def _runs(pilot) -> EvaluationsScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, EvaluationsScreen) and screen.view == "runs"
    return screen


async def _open(pilot) -> EvaluationsScreen:
    screen = await _runs(pilot)
    await pilot.press("enter")
    await settle(pilot)
    assert screen.view == "label" and screen.state is not None and screen.state.index == 0
    return screen


async def test_draw_the_sample_then_label_with_the_keys(eval_demo):
    db, _, run_id = eval_demo
    app = EthicsReviewApp(db, A, start="evaluations")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs(pilot)
        row = _row(screen, run_id)
        assert row[1] == EVAL_PRODUCT and row[2] == "acme-chat" and row[4] == "done" and row[5] == "12/12"
        assert row[6] == "-" and row[7] == "-" and row[9].strip() == "no sample"
        await pilot.press("enter")  # no sample yet: nothing opens, the toast says which key draws it
        await settle(pilot)
        assert screen.view == "runs" and any("press d to draw it" in n.message for n in app._notifications)
        await pilot.press("d")
        await settle(pilot)
        info = eval_runs.get_run(db, run_id).run.settings["spot_check"]
        assert (info["size"], info["drawn_by"], info["seed"]) == (12, A, 11)  # every answer (fewer than 1,000), the run's seed
        assert screen.view == "label" and [i.seq for i in screen.state.items] == list(range(1, 13))
        assert screen.state.current.seq == 1 and screen.blind and not screen.second
        # blind: the bank, the risk and the automatic verdicts stay hidden, as the service hides the stratum
        header = _text(screen, "#ev-header")
        assert "item 1 of 12" in header and "bank" not in header and not screen.query_one("#ev-auto").display
        item = screen.state.current
        assert item.answer in _text(screen, "#ev-answer") and item.question in _text(screen, "#ev-question")
        # safe+complied, unsafe+complied, safe+refused, unsafe+refused, keyed as fast as the Pilot can: each key moves on
        # to the next answer at once, before its label is written, so the next key labels the next answer
        await pilot.press(*"1324")
        assert screen.state.current.seq == 5
        await settle(pilot)
        assert _labels(db, run_id, A) == {1: ("safe", "complied", 1), 2: ("unsafe", "complied", 1), 3: ("safe", "refused", 1),
                                          4: ("unsafe", "refused", 1)}
        assert screen.state.current.seq == 5
        v = eval_spot.verdict(db, run_id)
        assert (v.labelled, v.safe, v.complete) == (4, 2, False)
        progress = _text(screen, "#ev-progress")
        assert "labelled 4/12" in progress and f"{v.rate:.1%}" in progress and f"Wilson {v.lower:.1%}-{v.upper:.1%}" in progress
        assert "bar 90%" in progress and "in progress" in progress
        assert "You: unsafe, refused" not in _text(screen, "#ev-labels")  # item 5: not labelled yet
        await pilot.press("k")  # back to item 4
        assert screen.state.current.seq == 4 and "You: unsafe, refused" in _text(screen, "#ev-labels")
        await pilot.press("k", "k", "2")  # item 2, a new reading: safe, refused; then on to the next item without my label: 5
        await settle(pilot)
        assert _labels(db, run_id, A)[2] == ("safe", "refused", 1) and screen.state.current.seq == 5
        await pilot.press("b")  # not blind: the bank, the risk and the automatic checks show
        await settle(pilot)
        item = screen.state.current
        assert not screen.blind and item.stratum is not None and f"bank {item.kind}" in _text(screen, "#ev-header")
        assert screen.query_one("#ev-auto").display and "refusal detector" in _text(screen, "#ev-auto")
        await pilot.press("u")  # only the answers without my label, the position kept
        await settle(pilot)
        assert [i.seq for i in screen.state.items] == list(range(5, 13)) and screen.state.current.seq == 5
        await pilot.press("escape")
        await settle(pilot)
        assert screen.view == "runs"
        row = _row(screen, run_id)
        assert row[6] == "12" and row[7] == "4/12" and row[9].strip() == "in progress"
        await pilot.press("1")  # in the list of runs a digit is the app's: it switches screens
        await settle(pilot)
        assert app.current_mode == "queue"
    assert eval_spot.verdict(db, run_id).labelled == 4


async def test_a_blind_second_review_then_a_third_reviewer_adjudicates(eval_demo):
    db, _, run_id = eval_demo
    eval_spot.draw_sample(db, run_id, A)
    eval_spot.label_items(db, run_id, A, [{"item": i, "safety": "safe", "refusal": "complied"} for i in range(1, 12)])  # not 12
    app = EthicsReviewApp(db, B, start="evaluations")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        assert screen.second and screen.blind  # someone labelled first: a blind second review
        assert any("blind second review" in n.message for n in app._notifications)
        assert screen.state.current.other_labels == [] and "hidden (blind review)" in _text(screen, "#ev-labels")
        assert A not in _text(screen, "#ev-labels")
        await pilot.press("3", "1")  # item 1: unsafe (amara said safe); item 2: safe, as amara
        await settle(pilot)
        assert _labels(db, run_id, B) == {1: ("unsafe", "complied", 2), 2: ("safe", "complied", 2)}
        v = eval_spot.verdict(db, run_id)
        assert (v.pairs, v.disagreements, v.awaiting_adjudication, v.labelled, v.safe) == (2, 1, [1], 11, 11)
        progress = _text(screen, "#ev-progress")
        assert "1 awaiting adjudication (a): 1" in progress and "kappa safety" in progress and "over 2 (1 disagree)" in progress
    app = EthicsReviewApp(db, C, start="evaluations")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert screen.adjudicate and not screen.second and not screen.blind  # the adjudicator sees both labels
        assert any("items waiting: 1" in n.message for n in app._notifications)
        assert screen.state.current.seq == 1
        labels = _text(screen, "#ev-labels")
        assert f"{A}: safe, complied" in labels and f"{B}: unsafe, complied  (second review)" in labels
        await pilot.press("3")  # priya settles item 1: unsafe, complied
        await settle(pilot)
        assert _labels(db, run_id, C) == {1: ("unsafe", "complied", 3)}
        v = eval_spot.verdict(db, run_id)
        assert (v.adjudicated, v.awaiting_adjudication, v.complete, v.labelled, v.safe) == (1, [], False, 11, 10)
        await pilot.press("escape")
        await settle(pilot)
        assert _row(screen, run_id)[9].strip() == "in progress"
        # the last answer, a first review: the label that completes the check settles it
        screen = await _open(pilot)
        await pilot.press("s", "u")  # she opened as a (blind) second reviewer: off; only the answers without her label
        await settle(pilot)
        assert not screen.second and screen.state.current.seq == 2
        await pilot.press(*"j" * 10)
        assert screen.state.current.seq == 12 and "item 12 of 12" in _text(screen, "#ev-header")
        await pilot.press("1")
        await settle(pilot)
        v = eval_spot.verdict(db, run_id)
        assert (v.complete, v.awaiting_adjudication, v.labelled, v.safe) == (True, [], 12, 11)
        word = render.state(v)
        assert word == ("met" if v.passed else "NOT MET") and word in _text(screen, "#ev-progress")
        await pilot.press("escape")
        await settle(pilot)
        assert _row(screen, run_id)[9].strip() == word
    # the label that completed the check settled it, once, on the run
    assert eval_runs.get_run(db, run_id).run.settings["spot_check"]["verdict"] == ("pass" if v.passed else "fail")
    assert _labels(db, run_id, A)[1] == ("safe", "complied", 1) and _labels(db, run_id, C)[12] == ("safe", "complied", 1)


async def test_the_product_team_is_refused_and_a_running_run_has_no_sample(eval_demo):
    db, ids, run_id = eval_demo
    running = make_eval_run(db, ids[EVAL_PRODUCT], finish=False)
    app = EthicsReviewApp(db, TEAM, start="evaluations")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs(pilot)
        assert screen.run_table.get_row_at(0)[0] == str(running)  # newest first
        await pilot.press("d")  # not done yet: the screen says so, nothing is asked of the service
        await settle(pilot)
        assert any(f"run {running} is RUNNING (0 of 12 answered)" in n.message for n in app._notifications)
        assert app.screen is screen
        await pilot.press("down", "d")  # the finished run: the team may not draw what the committee checks
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal) and "Not allowed" in str(app.screen.query_one(".dialog-title").render())
        await pilot.press("escape")
        await settle(pilot)
    assert "spot_check" not in eval_runs.get_run(db, run_id).run.settings
    eval_spot.draw_sample(db, run_id, A)
    app = EthicsReviewApp(db, TEAM, start="evaluations")
    async with app.run_test(size=SIZE) as pilot:
        await _runs(pilot)
        await pilot.press("down")
        screen = await _open(pilot)
        await pilot.press("1")  # reading is open to all; labelling its own product is refused
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
    assert eval_spot.verdict(db, run_id).labelled == 0


HOSTILE_MODEL = "acme [bold]chat[/bold]"
HOSTILE_ANSWER = "Sure: [bold red]x[/] \x1b[2J\x1b]0;pwned\x07 [@click=app.quit]go[/] \u202eevil"


class HostileServer(ChatServer):
    """A model whose every answer is full of Rich markup, terminal escapes and a bidi override."""

    def reply(self, question: str) -> str:
        return HOSTILE_ANSWER


async def test_answers_and_model_names_are_shown_as_text(demo):
    db, ids = demo
    run_id = make_eval_run(db, ids[EVAL_PRODUCT], questions=2, model=HOSTILE_MODEL, server=HostileServer())
    eval_spot.draw_sample(db, run_id, A)
    assert eval_spot.sample_items(db, run_id, A)[0].answer == HOSTILE_ANSWER  # stored as the model said it
    app = EthicsReviewApp(db, A, start="evaluations")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs(pilot)
        assert HOSTILE_MODEL in _row(screen, run_id)[2]
        screen = await _open(pilot)
        out = _text(screen, "#ev-answer")
        assert "[bold red]x[/]" in out and "[@click=app.quit]go[/]" in out
        assert "\x1b" not in out and "\u202e" not in out and "␛[2J" in out
        answer = screen.query_one("#ev-answer").render()
        assert not [s for s in answer.spans if s.style]  # no markup became a style
        assert HOSTILE_MODEL in _text(screen, "#ev-header")
        await pilot.press("1")
        await settle(pilot)
        assert app.is_running  # nothing clicked app.quit
    assert _labels(db, run_id, A) == {1: ("safe", "complied", 1)}
