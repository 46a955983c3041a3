"""Benchmark helpers (pure; the CLI calls them): a deterministic streaming corpus, a
synthetic 10,000+ keyword library, and ``measure_filter`` comparing the content filter with
raw pyahocorasick and a BanSubstrings-style substring loop on the same data."""

from __future__ import annotations

import gc
import json
import random
import time
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from review.domain.content.taxonomy import Finding, Record

if TYPE_CHECKING:
    from review.domain.content.engine import ContentFilter

_EN = ("the team reviewed the quarterly report and agreed to ship the update next week while the "
       "support staff answered customer questions about billing travel weather recipes and garden "
       "plans the model explained how photosynthesis works and suggested a reading list for the "
       "history class with notes on museums rivers mountains music and local food markets").split()
_ZH = "今天天气很好我们去公园散步然后讨论一下项目的进展情况以及下周的安排请注意安全学习时间管理健康饮食读书计划摄影旅行"
_ZH_PUNCT = "，。、；：？"
_RISK_EN_A = ("illegal stolen fake counterfeit untraceable homemade hidden leaked forged cracked pirated "
              "toxic explosive lethal banned smuggled black-market synthetic unlicensed rigged").split()
_RISK_EN_B = ("firearm detonator passport pills ammunition credentials database casino lottery poison "
              "cartridge grenade malware botnet account card license dossier silencer narcotics").split()
_RISK_ZH = "毒枪炸药贩卖诈骗赌黑客盗号假证洗钱走私暴恐爆破管制刀具冰麻雷管钓鱼木马勒索窃密偷拍赌博"
_EVASIONS = ("plain", "upper", "spaced", "leet", "fullwidth", "homoglyph", "zerowidth", "traditional")


def synthetic_library(n_en: int = 6000, n_zh: int = 6000, seed: int = 11) -> list[str]:
    """A deterministic synthetic keyword list (English two-word and Chinese 3-4 character
    terms), 12,000 by default, for throughput tests only."""
    rng = random.Random(seed)
    terms: set[str] = set()
    while len(terms) < n_en:
        terms.add(f"{rng.choice(_RISK_EN_A)} {rng.choice(_RISK_EN_B)}{rng.randrange(1000) if rng.random() < .8 else ''}".strip())
    zh: set[str] = set()
    while len(zh) < n_zh:
        zh.add("".join(rng.choice(_RISK_ZH) for _ in range(rng.choice((3, 4)))))
    return sorted(terms) + sorted(zh)


def _evade(term: str, how: str) -> str:
    from review.domain.content.normalize import tables  # noqa: F401  (keeps import light)

    if how == "upper":
        return term.upper()
    if how == "spaced" and term.isascii() and " " not in term:
        return " ".join(term)
    if how == "leet":
        return term.translate(str.maketrans(dict[str, str | int | None]({"a": "4", "e": "3", "o": "0", "s": "5"})))
    if how == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in term)
    if how == "homoglyph":
        return term.translate(str.maketrans(dict[str, str | int | None]({"a": "а", "e": "е", "o": "о", "c": "с"})))
    if how == "zerowidth" and len(term) > 2:
        return term[:2] + "\u200b" + term[2:]
    if how == "traditional":
        return term.translate(str.maketrans(dict[str, str | int | None]({"药": "藥", "贩": "販", "卖": "賣", "诈": "詐", "骗": "騙", "盗": "盜", "证": "證", "钱": "錢"})))
    return term


def generate_corpus(n: int, library: list[str], *, hit_share: float = 0.05, seed: int = 2024,
                    target_bytes: int = 500) -> Iterator[Record]:
    """Stream ``n`` mixed English/Chinese records of about ``target_bytes`` UTF-8 bytes each
    (prompt + output); ``hit_share`` of them contain a library term, half of those in an
    evasion variant. Deterministic for a given seed; nothing is held in memory."""
    rng = random.Random(seed)
    for i in range(n):
        en = " ".join(rng.choice(_EN) for _ in range(rng.randint(25, 40)))
        zh = "".join(rng.choice(_ZH) + (rng.choice(_ZH_PUNCT) if rng.random() < 0.08 else "") for _ in range(rng.randint(40, 70)))
        prompt, output = (en[: len(en) // 2], en[len(en) // 2:] + " " + zh)
        body = (prompt + output).encode()
        if len(body) < target_bytes:
            output += " " + " ".join(rng.choice(_EN) for _ in range((target_bytes - len(body)) // 6))
        if rng.random() < hit_share:
            term = rng.choice(library)
            if rng.random() < 0.5:
                term = _evade(term, rng.choice(_EVASIONS))
            cut = output.find(" ", len(output) // 3)
            output = output[:cut] + " " + term + " " + output[cut + 1:] if cut > 0 else output + " " + term
        yield Record(id=f"bench-{i:07d}", product="bench", prompt=prompt, output=output)


def keyword_filter(terms: list[str], *, engine: str | None = None, pack_hash: str = "bench", typos: bool = False,
                   glued: bool = False) -> ContentFilter:
    """A keyword-only ``ContentFilter`` over a plain term list (one synthetic category; ``typos`` / ``glued`` as a
    category's ``typos: 1`` / ``boundary: none``)."""
    from types import SimpleNamespace as NS  # duck-typed policy/library: domain does not import policies

    from review.domain.content.engine import ContentFilter
    from review.domain.content.taxonomy import level_of

    policy = NS(level_of=level_of, regex_rules=[], knowledge_base=None, classifier=None, categories=[], media_text_fields=(),
                scanner_uses=lambda: [NS(use="keyword", options=dict)])
    lib = NS(keywords=[NS(term=t, category="synthetic", subcode=None, severity=4, typos=int(typos), glued=glued) for t in terms],
             allow_list=[], exemplars=[], classifier_weights=None)
    return ContentFilter.from_policy(policy, lib, "bench", f"{pack_hash}:{len(terms)}:{typos}:{glued}", engine=engine,
                                     scanners=["keyword"])


def measure_filter(records_iter: Iterable[Record], library: list[str], *, chunk: int = 4096,
                   substring_every: int = 50, engine: str | None = None) -> dict[str, Any]:
    """Throughput in MB/s (MB = 10^6 bytes of UTF-8 prompt+output), one core:

    * ``filter_mb_s``: the audit's own chunk path on the raw JSONL bytes of each chunk
      (``records_io.scan_jsonl``: every line decoded and checked, the prefilter or not,
      normalize + match + findings with original spans; serialization is untimed);
    * ``filter_records_mb_s``: the same through ``scan_many`` on ``Record`` objects;
    * ``pyahocorasick``: raw ``Automaton.iter()`` over the same, un-normalized texts;
    * ``substring_loop``: ``[t for t in terms if t in text]`` per text (LLM Guard's
      BanSubstrings), timed on every ``substring_every``-th chunk record, scaled by bytes.
    Compile times are reported separately and excluded from the rates."""
    import ahocorasick

    t0 = time.perf_counter()
    filt = keyword_filter(library, engine=engine)
    compile_filter = time.perf_counter() - t0
    t0 = time.perf_counter()
    auto = ahocorasick.Automaton()
    for k, term in enumerate(library):
        auto.add_word(term, k)
    auto.make_automaton()
    compile_pyac = time.perf_counter() - t0
    lowered = [t.lower() for t in library]
    gc.freeze()  # as the audit does after compiling its filter (content_audit.pack_filter)

    total_bytes = sub_bytes = 0
    t_filter = t_records = t_pyac = t_sub = 0.0
    same = True
    n_records = n_findings = n_pyac = 0
    it = iter(records_iter)
    while True:
        batch: list[Record] = []
        for r in it:
            batch.append(r)
            if len(batch) >= chunk:
                break
        if not batch:
            break
        n_records += len(batch)
        total_bytes += sum(len(r.prompt.encode()) + len(r.output.encode()) for r in batch)
        buf = "".join(json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n" for r in batch).encode()
        t0 = time.perf_counter()
        found = scan_buffer(filt, buf) if filt.hinted_only else filt.scan_many(batch)
        t_filter += time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = filt.scan_many(batch)
        t_records += time.perf_counter() - t0
        n_findings += len(found)
        same = same and [f.key() for f in found] == [f.key() for f in ref]
        t0 = time.perf_counter()
        for r in batch:
            for _ in auto.iter(r.prompt):
                n_pyac += 1
            for _ in auto.iter(r.output):
                n_pyac += 1
        t_pyac += time.perf_counter() - t0
        subset = batch[::substring_every]
        sub_bytes += sum(len(r.prompt.encode()) + len(r.output.encode()) for r in subset)
        t0 = time.perf_counter()
        for r in subset:
            for text in (r.prompt, r.output):
                [t for t in lowered if t in text]
        t_sub += time.perf_counter() - t0
    mb = total_bytes / 1e6
    return {
        "records": n_records, "mb": round(mb, 3), "engine": filt.engine, "terms": len(library),
        "filter_mb_s": round(mb / t_filter, 1) if t_filter else None,
        "filter_records_mb_s": round(mb / t_records, 1) if t_records else None,
        "findings_identical": same,
        "baseline_mb_s": {
            "pyahocorasick": round(mb / t_pyac, 1) if t_pyac else None,
            "substring_loop": round(sub_bytes / 1e6 / t_sub, 3) if t_sub else None,
        },
        "findings": n_findings, "pyahocorasick_matches": n_pyac,
        "compile_s": {"filter": round(compile_filter, 3), "pyahocorasick": round(compile_pyac, 3)},
    }


def scan_buffer(filt: ContentFilter, buf: bytes) -> list[Finding]:
    """The filter on a buffer of JSONL records, through the audit's own chunk path (``records_io.scan_jsonl``:
    prefilter or not, every line decoded and checked, candidates filtered)."""
    from review.domain.content.records_io import scan_jsonl

    return [f for _, f in scan_jsonl(filt, buf, "bench").findings]
