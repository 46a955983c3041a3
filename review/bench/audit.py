"""``ethics-review bench audit --items N``: the keyword filter on realistic traffic against raw Hyperscan,
ahocorasick_rs and pyahocorasick doing the same work per chunk (``review.bench.realistic``), compile times
(cold and from the matcher cache), and the whole ``audit run`` path (read, filter, persist findings, draw the
sample) end to end in a child process.

The corpus is realistic (``review.bench.corpus``: words by real English and Chinese frequency, sentence case,
digits, URLs, e-mails, Markdown, full-width punctuation, emoji; a 10,000-term library of real words and phrases),
streamed to a temporary JSONL file. The previous synthetic corpus (60 lowercase words, a 50-character Chinese
alphabet) is measured next to it (``synthetic``) for comparison only: its prefilter skips 95% of lines.

The keyword-only audit uses a temporary copy of the default pack whose keyword library is the realistic one;
``full_pack_*`` audits the corpus (or its first ``--full-pack-items`` records) with the SHIPPED default pack
(keywords, PII regex rules, knowledge base and the classifier on every text). ``--database`` runs the audits on
a PostgreSQL server (a scratch schema, dropped afterwards); the default is a temporary SQLite file. Everything the
benchmark creates is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any



def register(bench: Any) -> None:
    p = bench.add_parser("audit", help="content filter MB/s vs pyahocorasick and a substring loop; audit run time and peak RSS")
    p.add_argument("--items", type=int, default=1_000_000, help="records in the generated corpus (default 1,000,000)")
    p.add_argument("--hit-share", type=float, default=0.03, help="share of records given a library term on top of the "
                   "natural hits (default 0.03)")
    p.add_argument("--filter-items", type=int, default=100_000, help="records used for the single-core filter figures")
    p.add_argument("--database", dest="bench_db", default=None, metavar="URL",
                   help="PostgreSQL URL for the audit runs (a scratch schema; default: a temporary SQLite file)")
    p.add_argument("--no-synthetic", action="store_true", help="skip the old synthetic corpus measurement")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (corpus, pack, database)")
    p.add_argument("--full-pack-items", type=int, default=None,
                   help="records audited with the shipped default pack (all scanners) for full_pack_records_s "
                        "(default: the whole corpus); 0 skips")
    p.set_defaults(func=cmd_bench_audit)


def cmd_bench_audit(ctx: Any) -> int:
    full = ctx.args.items if ctx.args.full_pack_items is None else ctx.args.full_pack_items
    a = ctx.args
    result = run(a.items, hit_share=a.hit_share, keep=a.keep, echo=None if ctx.json else print, full_pack_items=full,
                 filter_items=a.filter_items, database=a.bench_db, synthetic=not a.no_synthetic)
    print(json.dumps(result))
    return 0


def _write_pack(tmp: Path, library: list[str]) -> Path:
    import yaml

    src = Path(__file__).resolve().parents[2] / "policies" / "packs" / "default"
    dst = tmp / "pack"
    shutil.copytree(src, dst)
    cs_path = dst / "content" / "content_safety.yaml"
    cs = yaml.safe_load(cs_path.read_text(encoding="utf-8"))
    (dst / "content" / "keywords" / "bench.txt").write_text("\n".join(library) + "\n", encoding="utf-8")
    for c in cs["categories"]:
        c["keywords"] = "content/keywords/bench.txt" if c["code"] == "illegal_cyber" else None
    cs.pop("knowledge_base", None)
    cs.pop("classifier", None)
    cs["regex_rules"] = []
    cs_path.write_text(yaml.safe_dump(cs, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dst / "pack.yaml"


def _setup_db(url: str) -> None:
    from review.services import users
    from review.store.db import Database, utcnow
    from review.store.models import Product

    db = Database(url)
    db.upgrade()
    users.add_user(db, "bench", team="bench-office", roles="admin", display_name="bench", actor=None)
    with db.transaction() as s:
        s.add(Product(name="bench", owner_team="bench-team", business_line="bench", policy_id="default", created_by="bench",
                      created_at=utcnow()))
    db.dispose()


def run(items: int, *, hit_share: float = 0.03, keep: bool = False, echo=print, full_pack_items: int = 0,
        filter_items: int = 100_000, database: str | None = None, synthetic: bool = True) -> dict:
    from contextlib import ExitStack

    from review.bench import realistic
    from review.bench.corpus import realistic_library
    from review.bench.scratch import scratch_schema

    say = echo or (lambda *_: None)
    library = realistic_library()
    tmp = Path(tempfile.mkdtemp(prefix="ethics-review-bench-audit-"))
    try:
        corpus = tmp / "corpus.jsonl"
        t0 = time.perf_counter()
        size = realistic.write_corpus(corpus, items, library, hit_share)
        say(f"realistic corpus: {items:,} records, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f}s ({corpus})")
        n_filter = min(items, filter_items)
        head = _head(corpus, tmp / "corpus-filter.jsonl", n_filter, items)
        comp = realistic.compile_times(library, tmp / "matchers")
        say(f"compiling the {len(library):,}-term library: {comp['cold']} s; from the matcher cache: {comp['cached']} s")
        m = realistic.measure(head, library)
        rates = m["mb_s"]
        say(f"filter on {n_filter:,} realistic records: {rates['filter']} MB/s; raw Hyperscan {rates['raw_hyperscan']}, "
            f"ahocorasick_rs {rates['ahocorasick_rs']}, pyahocorasick {rates['pyahocorasick']} "
            f"(ratios {m['ratio_raw_hyperscan']}, {m['ratio_ahocorasick_rs']}, {m['ratio_pyahocorasick']}); "
            f"{m['records_flagged_share']:.0%} of records flagged")
        result: dict[str, Any] = {
            "items": items, "corpus_mb": round(size / 1e6, 1), "terms": len(library), "filter_records": n_filter,
            "realistic_filter_mb_s": rates["filter"], "ratio_raw_hyperscan": m["ratio_raw_hyperscan"],
            "ratio_ahocorasick_rs": m["ratio_ahocorasick_rs"], "ratio_pyahocorasick": m["ratio_pyahocorasick"],
            "compile_10k_s": comp["cold"], "compile_10k_cached_s": comp["cached"], "realistic": m,
        }
        if synthetic:
            result["synthetic"] = _synthetic(min(items, 200_000), say)
        with ExitStack() as stack:
            if database:
                url, _home = stack.enter_context(scratch_schema(database, "bench_audit"))
            else:
                url = f"sqlite:///{tmp / 'bench.db'}"
            result["database"] = url.split(":", 1)[0].split("+", 1)[0]
            _setup_db(url)
            env = {**os.environ, "ETHICS_REVIEW_HOME": str(tmp), "ETHICS_REVIEW_MATCHER_CACHE": str(tmp / "matchers")}
            pack = _write_pack(tmp, library)
            cmd = [sys.executable, "-m", "review.cli.main", "--database", url, "--as", "bench", "--json", "audit", "run", str(corpus),
                   "--product", "bench", "--pack", str(pack), "--seed", "7"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            audit_s = time.perf_counter() - t0
            rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if proc.returncode != 0:
                raise RuntimeError(f"audit run failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
            summary = json.loads(proc.stdout.strip().splitlines()[-1])
            say(f"audit run (keyword pack, {result['database']}): {audit_s:.1f}s, {summary['findings']:,} findings, "
                f"{summary['flagged_records']:,} flagged, sample {summary['sample_size']:,}, peak RSS {rss_kb / 1024:.0f} MB")
            result.update(audit_s=round(audit_s, 1), peak_rss_mb=round(max(rss_kb, before) / 1024, 1), audit_findings=summary["findings"],
                          audit_flagged=summary["flagged_records"], sample_size=summary["sample_size"])
            if items == 1_000_000:
                result["audit_1m_s"] = result["audit_s"]
            if full_pack_items > 0:
                n_full = min(full_pack_items, items)
                part = _head(corpus, tmp / "corpus-head.jsonl", n_full, items)
                t0 = time.perf_counter()
                proc = subprocess.run([*cmd[:cmd.index("run") + 1], str(part), "--product", "bench", "--pack", "default", "--seed", "8"],
                                      capture_output=True, text=True, env=env)
                full_s = time.perf_counter() - t0
                if proc.returncode != 0:
                    raise RuntimeError(f"full-pack audit failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
                rate = n_full / full_s
                result.update(full_pack_items=n_full, full_pack_records_s=round(rate), audit_1m_full_pack_s_est=round(1_000_000 / rate, 1))
                if n_full == 1_000_000:
                    result["audit_1m_full_pack_s"] = round(full_s, 1)
                say(f"shipped default pack (keywords + regex + knowledge base + classifier), {result['database']}: {rate:,.0f} records/s "
                    f"on {n_full:,} records -> about {1_000_000 / rate:,.0f} s per million")
        return result
    finally:
        if keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _head(corpus: Path, dest: Path, n: int, total: int) -> Path:
    """The first ``n`` lines of ``corpus`` (the corpus itself when that is all of it)."""
    if n >= total:
        return corpus
    with corpus.open(encoding="utf-8") as src, dest.open("w", encoding="utf-8") as dst:
        dst.writelines(islice(src, n))
    return dest


def _synthetic(n: int, say: Any) -> dict[str, Any]:
    """Yesterday's corpus and library, for comparison: the audit path's MB/s and pyahocorasick's on it."""
    from review.domain.content.benchmark import generate_corpus, measure_filter, synthetic_library

    library = synthetic_library()
    m = measure_filter(generate_corpus(n, library, hit_share=0.05), library)
    pyac = m["baseline_mb_s"]["pyahocorasick"]
    say(f"synthetic corpus (for comparison): filter {m['filter_mb_s']} MB/s, pyahocorasick {pyac}")
    return {"records": n, "filter_mb_s": m["filter_mb_s"], "pyahocorasick_mb_s": pyac,
            "ratio_pyahocorasick": round(m["filter_mb_s"] / pyac, 2) if pyac else None, "findings_identical": m["findings_identical"]}


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    print(json.dumps(run(parser.parse_args().items)))
