"""The compiled plain-record check of the audit's bulk JSONL path (``_native.plain_fields``) decides exactly as
``records_io._plain_id`` and builds the candidates' fields exactly as ``taxonomy.add_fields``; ``pack_keys`` packs
``id_key`` of every id."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from review.domain.content import records_io as rio
from review.domain.content.normalize import native
from review.domain.content.taxonomy import add_fields

nat = native()

values = st.one_of(st.none(), st.text(alphabet="ab \t\u3000é中😀", max_size=6), st.integers(-1, 2), st.booleans(),
                   st.sampled_from(["text", "image", "audio", "video", "TEXT", "prod", ""]), st.just({}), st.just({"k": "v"}),
                   st.just([]), st.just("x" * 129), st.just("x" * 128))
records = st.dictionaries(st.sampled_from(["id", "prompt", "output", "product", "metadata", "modality", "other"]), values)
objects = st.one_of(records, st.lists(st.integers(), max_size=2), st.text(max_size=3))


def _reference(objs, product, cand):
    ids = [rio._plain_id(o, product) for o in objs]
    if None in ids:
        return None
    owners: list = []
    texts: list = []
    for k in (range(len(objs)) if cand is None else cand):
        add_fields(owners, texts, ids[k], objs[k].get("prompt", ""), objs[k].get("output", ""), None)
    return ids, owners, texts, sum(1 for o in objs if o.get("modality", "text") != "text")


@pytest.mark.skipif(nat is None, reason="the C extension is not built here")
@settings(max_examples=3000, deadline=None)
@given(st.lists(objects, max_size=5), st.sampled_from([None, "", "prod"]), st.booleans())
def test_plain_fields_equals_the_reference(objs, product, some):
    cand = list(range(0, len(objs), 2)) if some else None
    got = nat.plain_fields(objs, product, rio.MODALITIES, rio.MAX_ID, cand)
    assert got == _reference(objs, product, cand)


def test_pack_keys_packs_id_key_per_record():
    lines = {"r1": 1, "é": 2, "😀" * 40: 3, "x": 2**40}
    assert rio.unpack_keys(rio.pack_keys(lines)) == [(rio.id_key(k), v) for k, v in lines.items()]
    assert rio.pack_keys({}) == b""


@settings(max_examples=2000, deadline=None)
@given(records, st.sampled_from([None, "", "prod"]))
def test_a_plain_record_is_the_record_validate_builds(obj, product):
    """read_chunk builds a plain record directly (``_plain``): the same Record ``validate`` returns."""
    rid = rio._plain_id(obj, product)
    if rid is not None:
        assert rio._plain(obj, rid, product) == rio.validate(obj, "f.jsonl", 1, product)
