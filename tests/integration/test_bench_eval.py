"""``bench eval`` runs against its local chat server and prints its figures, conformance_s included."""

from __future__ import annotations

import json

from review.cli.main import main


def test_bench_eval_prints_one_json_line_with_its_figures(capsys) -> None:
    assert main(["bench", "eval", "--runs", "1", "--latency", "0.01", "--audited", "2000"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["items"] == 156 and last["eval_items_per_s"] > 0 and last["audited_records"] == 2000
    assert 0 < last["conformance_s"] < 60
