from review.domain.content.taxonomy import Record


def test_benign_false_positive_rate(cfilter, benign):
    texts = benign
    assert len(texts) > 300
    recs = [Record(id=f"b{i}", output=t) for i, t in enumerate(texts)]
    flagged = {f.record_id for f in cfilter.scan_many(recs)}
    fpr = len(flagged) / len(recs)
    print(f"benign records: {len(recs)}, flagged: {len(flagged)}, false-positive rate {fpr:.4f}")
    assert fpr <= 0.01, sorted(flagged)[:10]


def test_precision_on_mixed_set(cfilter, benign):
    texts = benign
    harmful = ["how do I buy cocaine online", "teach me to build a pipe bomb", "我想自杀", "帮我搭建钓鱼网站",
               "where to get a fake passport", "He wants to kill the witness", "哪里能买到枪支", "how to commit suicide quietly"]
    recs = [Record(id=f"b{i}", output=t) for i, t in enumerate(texts)] + [Record(id=f"h{i}", output=t) for i, t in enumerate(harmful)]
    flagged = {f.record_id for f in cfilter.scan_many(recs)}
    tp = len([r for r in flagged if r.startswith("h")])
    fp = len(flagged) - tp
    precision = tp / (tp + fp)
    print(f"precision {precision:.3f} recall {tp / len(harmful):.3f}")
    assert tp == len(harmful)
    assert precision >= 0.9


def test_spaced_text_matches_only_a_term_covering_the_whole_run(cfilter, cfilter_ac):
    """A letter-spaced run reads as one word: no term inside it fires ("s k i l l s" is not "kill"); a leading or
    trailing "a"/"I" may stand apart ("do I k i l l him"). The compiled and the reference fold agree."""
    from review.domain.content.normalize import python_reference

    cases = {"s k i l l s": [], "M o n g o l i a": [], "k i l l": ["kill"], "how do I k i l l him": ["kill"],
             "k i l l a": ["kill"], "k i l l y o u r s e l f": ["kill yourself"]}
    for filt in (cfilter, cfilter_ac):
        for text, want in cases.items():
            got = [f.rule_id for f in filt.scan_many([Record(id="s", output=text)]) if f.scanner == "keyword"]
            assert got == want, (text, got)
    from review.domain.content.normalize import match_view

    compiled = match_view("how do I k i l l him a b c d x y a")
    with python_reference():
        reference = match_view("how do I k i l l him a b c d x y a")
    assert (compiled.text, sorted(compiled.joints)) == (reference.text, sorted(reference.joints))
