"""``ethics-review bench audit --items N``: filter throughput vs baselines, and the whole
``audit run`` path (read, filter, persist findings, draw the sample) on SQLite.

The corpus (mixed English/Chinese, ~500 bytes a record, 12,000 synthetic keywords) is
streamed to a temporary JSONL file. The audit runs in a child process
(``ethics-review audit run``) so ``peak_rss_mb`` (ru_maxrss) is that run's alone.
The audit uses a temporary copy of the default pack whose keyword library is the
synthetic one (keyword scanner only, like the filter measurement).

``full_pack_records_s`` is measured separately: the corpus (or its first
``--full-pack-items`` records) audited with the SHIPPED default pack (keywords, PII regex
rules, knowledge base and the classifier on every text), with ``audit_1m_full_pack_s`` (the
whole million) or ``audit_1m_full_pack_s_est`` (extrapolated from fewer records).
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

FILTER_SAMPLE = 200_000  # records used for the single-core filter measurement


def register(bench: Any) -> None:
    p = bench.add_parser("audit", help="content filter MB/s vs pyahocorasick and a substring loop; audit run time and peak RSS")
    p.add_argument("--items", type=int, default=1_000_000, help="records in the generated corpus (default 1,000,000)")
    p.add_argument("--hit-share", type=float, default=0.05, help="share of records holding a library term (default 0.05)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (corpus, pack, database)")
    p.add_argument("--full-pack-items", type=int, default=None,
                   help="records audited with the shipped default pack (all scanners) for full_pack_records_s "
                        "(default: the whole corpus); 0 skips")
    p.set_defaults(func=cmd_bench_audit)


def cmd_bench_audit(ctx: Any) -> int:
    full = ctx.args.items if ctx.args.full_pack_items is None else ctx.args.full_pack_items
    result = run(ctx.args.items, hit_share=ctx.args.hit_share, keep=ctx.args.keep, echo=None if ctx.json else print,
                 full_pack_items=full)
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


def run(items: int, *, hit_share: float = 0.05, keep: bool = False, echo=print, full_pack_items: int = 0) -> dict:
    from review.domain.content.benchmark import generate_corpus, measure_filter, synthetic_library

    say = echo or (lambda *_: None)
    library = synthetic_library()
    tmp = Path(tempfile.mkdtemp(prefix="ethics-review-bench-audit-"))
    try:
        corpus = tmp / "corpus.jsonl"
        t0 = time.perf_counter()
        size = 0
        with corpus.open("w", encoding="utf-8") as f:
            for r in generate_corpus(items, library, hit_share=hit_share):
                line = json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n"
                size += len(line.encode())
                f.write(line)
        say(f"corpus: {items:,} records, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f}s ({corpus})")
        n_filter = min(items, FILTER_SAMPLE)
        m = measure_filter(islice(generate_corpus(items, library, hit_share=hit_share), n_filter), library)
        pyac = m["baseline_mb_s"]["pyahocorasick"]
        say(f"filter: {m['filter_mb_s']} MB/s (records path {m['filter_records_mb_s']}); pyahocorasick {pyac}; "
            f"substring loop {m['baseline_mb_s']['substring_loop']} (on {n_filter:,} records)")
        url = f"sqlite:///{tmp / 'bench.db'}"
        _setup_db(url)
        pack = _write_pack(tmp, library)
        cmd = [sys.executable, "-m", "review.cli.main", "--database", url, "--as", "bench", "--json", "audit", "run", str(corpus),
               "--product", "bench", "--pack", str(pack), "--seed", "7"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "ETHICS_REVIEW_HOME": str(tmp)})
        audit_s = time.perf_counter() - t0
        rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode != 0:
            raise RuntimeError(f"audit run failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        say(f"audit run: {audit_s:.1f}s, {summary['findings']:,} findings, {summary['flagged_records']:,} flagged, "
            f"sample {summary['sample_size']:,}, peak RSS {rss_kb / 1024:.0f} MB")
        result = {
            "items": items, "corpus_mb": round(size / 1e6, 1), "terms": len(library), "engine": m["engine"],
            "filter_records": n_filter, "filter_mb_s": m["filter_mb_s"], "filter_records_mb_s": m["filter_records_mb_s"],
            "findings_identical": m["findings_identical"],
            "baseline_mb_s": m["baseline_mb_s"],
            "ratio_vs_pyahocorasick": round(m["filter_mb_s"] / pyac, 2) if pyac else None,
            "audit_s": round(audit_s, 1), "peak_rss_mb": round(max(rss_kb, before) / 1024, 1),
            "audit_findings": summary["findings"], "audit_flagged": summary["flagged_records"], "sample_size": summary["sample_size"],
        }
        if items == 1_000_000:
            result["audit_1m_s"] = result["audit_s"]
        if full_pack_items > 0:
            n_full = min(full_pack_items, items)
            part = corpus
            if n_full < items:
                part = tmp / "corpus-head.jsonl"
                with corpus.open(encoding="utf-8") as src, part.open("w", encoding="utf-8") as dst:
                    dst.writelines(islice(src, n_full))
            t0 = time.perf_counter()
            proc = subprocess.run([*cmd[:cmd.index("run") + 1], str(part), "--product", "bench", "--pack", "default", "--seed", "7"],
                                  capture_output=True, text=True, env={**os.environ, "ETHICS_REVIEW_HOME": str(tmp)})
            full_s = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"full-pack audit failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
            rate = n_full / full_s
            result.update(full_pack_items=n_full, full_pack_records_s=round(rate), audit_1m_full_pack_s_est=round(1_000_000 / rate, 1))
            if n_full == 1_000_000:
                result["audit_1m_full_pack_s"] = round(full_s, 1)
            say(f"shipped default pack (keywords + regex + knowledge base + classifier): {rate:,.0f} records/s "
                f"on {n_full:,} records -> about {1_000_000 / rate:,.0f} s per million")
        return result
    finally:
        if keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    print(json.dumps(run(parser.parse_args().items)))
