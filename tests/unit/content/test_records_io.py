"""The audit's raw-buffer path (one Hyperscan scan per JSONL chunk, only tagged/escaped lines
decoded) gives exactly ``scan_many``'s findings; input errors carry file, line, field, value."""

import json

import pytest

from review.domain.content.benchmark import _evade, _EVASIONS, generate_corpus, keyword_filter, scan_buffer, synthetic_library
from review.domain.content.records_io import BadRecord, plan_chunks, read_chunk, scan_chunk
from review.domain.content.taxonomy import Record
from review.domain.sampling import draw_positions


@pytest.fixture(scope="module")
def lib():
    return synthetic_library(600, 600, seed=3)


def _records(lib):
    recs = list(generate_corpus(400, lib, hit_share=0.3, seed=9))
    extra = [Record(id="esc", output='quote " and \\ then ' + lib[0] + "\ttab"),
             Record(id="meta", modality="image", metadata={"caption": lib[1], "alt": "x"}),
             Record(id="nul", output="a\x00" + lib[2])]
    extra += [Record(id=f"ev-{how}-{k}", prompt=_evade(t, how)) for k, t in enumerate(lib[::150]) for how in _EVASIONS]
    return recs + extra


def test_fast_path_equals_scan_many(lib, tmp_path, cfilter):
    assert keyword_filter(lib).hinted_only
    for filt in (keyword_filter(lib), cfilter):
        recs = _records(lib)
        path = tmp_path / "in.jsonl"
        path.write_text("".join(json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
        ref = [f.key() for f in filt.scan_many(recs)]
        assert ref
        got = []
        for spec in plan_chunks(path, "jsonl", 97):
            res = scan_chunk(filt, path, "jsonl", spec)
            assert not res.bad
            got += [f.key() for _, f in res.findings]
        assert sorted(got) == sorted(ref)
        assert [f.key() for f in scan_buffer(filt, path.read_bytes())] == ref


@pytest.mark.parametrize("escaped_share", [0.0, 0.9])
def test_prefilter_skipped_or_not_same_findings(lib, tmp_path, escaped_share, monkeypatch):
    """A chunk whose first lines would mostly be looked at anyway skips the prefilter (every line a candidate);
    either way the findings are scan_many's."""
    import dataclasses
    import random

    from review.domain.content import records_io

    rng = random.Random(5)
    recs = _records(lib)
    recs = [dataclasses.replace(r, output=r.output + "\n") if rng.random() < escaped_share else r for r in recs]
    recs = [*recs, *(Record(id=f"tail-{k}", output=f"clean line {k}" + ("" if k % 7 else " " + lib[k])) for k in range(600))]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    seen = []
    real = records_io._prefilter
    monkeypatch.setattr(records_io, "_prefilter", lambda *a: seen.append(real(*a)[1]) or real(*a))
    filt = keyword_filter(lib)
    ref = [f.key() for f in filt.scan_many(recs)]
    got = [f.key() for spec in plan_chunks(path, "jsonl", len(recs)) for _, f in scan_chunk(filt, path, "jsonl", spec).findings]
    assert seen == [escaped_share > records_io.PREFILTER_MAX_SHARE]
    assert got == ref and ref


def test_bad_lines_are_named_and_skipped(lib, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "output": "ok"}\n\n{"id": "a", "output": "dup"}\n{"id": "b", "metadata": [1]}\nnot json\n'
                    '{"id": "c", "product": "other"}\n', encoding="utf-8")
    spec = next(plan_chunks(path, "jsonl", 100))
    res = scan_chunk(keyword_filter(lib), path, "jsonl", spec, product="mine")
    assert res.records == 1
    assert [(b.line, b.field) for b in res.bad] == [(3, "id"), (4, "metadata"), (5, "(line)"), (6, "product")]
    assert res.bad[0].message == f"{path}:3: field 'id': value 'a' repeats the id of line 1; give every record a unique id"
    items = list(read_chunk(path, "jsonl", spec, "mine"))
    assert [line for line, it in items if isinstance(it, BadRecord)] == [4, 5, 6]  # read_chunk does not dedupe
    assert isinstance(items[0][1], Record)


def test_draw_positions_reproducible():
    a = draw_positions({"clean": 10**6, "flagged:x": 30}, 1000, seed=4, min_per_stratum=5)
    b = draw_positions({"flagged:x": 30, "clean": 10**6}, 1000, seed=4, min_per_stratum=5)
    assert a.ids == b.ids and sum(a.allocation.values()) == 1000 and a.allocation["flagged:x"] >= 5
    assert all(0 <= p < 10**6 for p in a.ids["clean"]) and len(set(a.ids["clean"])) == len(a.ids["clean"])
