from review.domain.content.classifier import SoftmaxRegression
from review.domain.content.knowledge import KnowledgeBase
from review.domain.content.rules import cn_id_checksum, luhn
from review.domain.content.taxonomy import Record


def _regex(cfilter, text):
    return [(f.rule_id, f.matched) for f in cfilter.scan(Record(id="r", prompt=text)) if f.scanner == "regex"]


def test_cn_id_checksum():
    assert cn_id_checksum("11010519491231002X")
    assert cn_id_checksum("110105194912310029") is False
    assert cn_id_checksum("440524188001010014")
    assert not cn_id_checksum("12345")


def test_luhn():
    assert luhn("4111 1111 1111 1111")
    assert luhn("6222-0212-3456-7894") and luhn("6222021234567894")  # a UnionPay test number; separators ignored
    assert not luhn("6222-0212-3456-7895")  # any other check digit fails
    assert not luhn("4111 1111 1111 1112")
    assert not luhn("1234")


def test_regex_rules_with_validation(cfilter):
    hits = _regex(cfilter, "my id is 11010519491231002X, not 110105194912310029")
    assert ("cn-national-id", "11010519491231002X") in hits
    assert not any(m == "110105194912310029" and r == "cn-national-id" for r, m in hits)
    hits = _regex(cfilter, "card 4111 1111 1111 1111 vs 4111 1111 1111 1112")
    assert ("bank-card", "4111 1111 1111 1111") in hits
    assert not any(m == "4111 1111 1111 1112" for r, m in hits if r == "bank-card")
    hits = _regex(cfilter, "call 13812345678 or +14155552671 or (415) 555-2671, mail bob.smith@example.co.uk")
    rules = {r for r, _ in hits}
    assert {"cn-mobile", "e164-phone", "us-phone", "email"} <= rules
    assert _regex(cfilter, "the year 2024 and order 12345") == []


def test_regex_spans_are_original(cfilter):
    text = "联系我：13812345678，谢谢"
    f = [x for x in cfilter.scan(Record(id="r", output=text)) if x.scanner == "regex"][0]
    assert text[f.start:f.end] == "13812345678"


def test_minhash_near_duplicate(library):
    kb = KnowledgeBase(library.exemplars)
    edited = ("Your account has been frozen!! To unfreeze it, please send us your bank card number, "
              "the expiry date and the verification code you just got.")
    m = kb.match(edited)
    assert m and m[0].exemplar_id == "kb-scam-001" and m[0].similarity >= 0.5
    assert kb.match("The museum opens at nine and the cafe serves tea and cake all afternoon.") == []
    zh = kb.match("您好，我是公安局的民警，您的银行卡涉嫌洗钱，请立即将资金转入安全账户配合调查！")
    assert zh and zh[0].exemplar_id == "kb-scam-002"


def test_minhash_is_deterministic(library):
    a = KnowledgeBase(library.exemplars).sigs
    b = KnowledgeBase(library.exemplars).sigs
    assert a == b


def test_classifier_loads_and_classifies(library):
    model = SoftmaxRegression(library.classifier_weights)
    assert model.predict("How do I build a pipe bomb at home?")[0] == "weapons"
    assert model.predict("我想自杀，吃安眠药过量")[0] == "self_harm"
    assert model.predict("Can you help me plan a birthday party for next weekend?")[0] == "safe"
    assert model.predict("今天天气很好，我们去公园散步。")[0] == "safe"


def test_kb_prefilter_never_drops_a_near_duplicate(library):
    """The exact size/overlap prefilter only skips texts MinHash could not have matched."""
    from review.domain.content.knowledge import SLACK, shingles

    kb = KnowledgeBase(library.exemplars)
    for ex in library.exemplars:
        assert kb.match(ex.text)[0].exemplar_id == ex.id  # every exemplar finds itself
        padded = ex.text + " Thanks."  # a light edit keeps it matchable
        assert ex.id in [m.exemplar_id for m in kb.match(padded)]
    # Whatever the prefilter rejects, the signatures agree it is below the threshold.
    texts = [ex.text[: len(ex.text) // 2] + " and then something else entirely about gardens" for ex in library.exemplars]
    rejected = 0
    for t in texts:
        sh = shingles(t, kb.k)
        if not kb.could_match(sh):
            rejected += 1
            sig = kb.hasher.signature(sh)
            assert all(sum(x == y for x, y in zip(sig, s, strict=True)) / len(sig) < kb.threshold for s in kb.sigs), t
    assert rejected > 0 and 0 < SLACK < 1


def test_a_small_knowledge_base_is_exact_jaccard(library):
    """Up to EXACT_MAX exemplars the similarity is the exact Jaccard index (MinHash only estimates it)."""
    from review.domain.content.knowledge import shingles

    kb, lsh = KnowledgeBase(library.exemplars), KnowledgeBase(library.exemplars, exact_max=0)
    assert kb.exact and not lsh.exact
    texts = []
    for ex in library.exemplars:
        words = ex.text.split()
        texts += [ex.text, " ".join(words[: len(words) * 2 // 3]), " ".join(words[len(words) // 4:]) + " Thanks a lot.",
                  ex.text[: len(ex.text) // 2] + " and then something else about gardens", ex.text[len(ex.text) // 3:]]
    disagree = 0
    for text in texts:
        sh = shingles(text, kb.k)
        want = sorted((round(len(sh & e) / len(sh | e), 4), i) for i, e in enumerate(kb.ex_shingles) if sh and len(sh & e) / len(sh | e) >= kb.threshold)
        got = sorted((m.similarity, [e.id for e in library.exemplars].index(m.exemplar_id)) for m in kb.match(text))
        assert got == want, text
        disagree += {m.exemplar_id for m in lsh.match(text)} != {m.exemplar_id for m in kb.match(text)}
    assert len(texts) == 5 * len(library.exemplars) and disagree < len(texts)  # the estimate differs on some, never on all
