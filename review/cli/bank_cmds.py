"""Test-bank commands (``bank lint``, ``bank import``) and ``conformance`` (the deployment against its standard)."""

from __future__ import annotations

import argparse
from typing import Any

from review.cli import output

#: ``bank lint``'s exit code when a bank falls short of the standard (as ``policy lint``)
SHORT = 10


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    bank = sub.add_parser("bank", help="test banks for evaluating a generative product's model").add_subparsers(
        dest="bank_cmd", required=True, metavar="ACTION")
    p = bank.add_parser("lint", help="a pack's test banks against its standard: sizes per risk, risks covered, age "
                                     f"(exit {SHORT} when short)")
    p.add_argument("pack", nargs="?", default="default")
    p.set_defaults(func=cmd_lint)
    p = bank.add_parser("import", help="add questions (JSON Lines) to a pack's bank: checked, deduplicated, version bumped, on "
                                       "the audit trail")
    p.add_argument("file")
    p.add_argument("--pack", default="default", help="pack id or directory (default: default)")
    p.add_argument("--bank", required=True, choices=("generated", "should_refuse", "must_not_refuse"))
    p.add_argument("--dry-run", action="store_true", help="report what would be added; write nothing")
    p.set_defaults(func=cmd_import)
    register_conformance(sub)


def cmd_lint(ctx: Any) -> int:
    from review.services.test_banks import bank_lint

    rep = bank_lint(ctx.args.pack)
    if ctx.json:
        output.emit_json(rep.to_json())
        return 0 if rep.ok else SHORT
    output.say(f"pack {rep.pack} {rep.version}: test banks against {rep.standard}")
    if rep.starter:
        output.say("these are STARTER banks (a few questions per risk to begin with), not banks that meet the standard",
                   style="yellow")
    output.table("Test banks", ["bank", "questions", "minimum", "newest", "age (days)", "max age", "languages"],
                 [(b.kind, f"{b.size:,}", f"{b.minimum:,}", b.newest.isoformat() if b.newest else "-",
                   "-" if b.age_days is None else str(b.age_days), str(b.max_age_days),
                   ", ".join(f"{k} {v}" for k, v in b.langs.items()) or "-") for b in rep.banks])
    gen = next(b for b in rep.banks if b.kind == "generated")
    if gen.per_risk or gen.missing_risks:
        output.table("Generated bank per risk", ["risk", "questions"],
                     [(r, str(n)) for r, n in gen.per_risk.items()] + [(r, "0") for r in gen.missing_risks])
    for b in rep.banks:
        for problem in b.problems:
            output.say(f"short: {problem}", style="yellow")
    if rep.ok:
        output.say("the banks meet the standard's figures")
    return 0 if rep.ok else SHORT


def cmd_import(ctx: Any) -> int:
    from review.services.test_banks import import_bank

    a = ctx.args
    rep = import_bank(None if a.dry_run else ctx.db, a.pack, a.file, kind=a.bank, actor=None if a.dry_run else ctx.actor_or_none,
                      dry_run=a.dry_run)
    if ctx.json:
        output.emit_json(rep.to_json())
        return 0
    per_risk = ", ".join(f"{r} {n}" for r, n in rep.to_json()["added_per_risk"].items()) or "none"
    output.say(f"{rep.file}: {rep.read} question(s) read; {len(rep.added)} new ({per_risk}); {len(rep.duplicates)} already in "
               f"the {rep.kind} bank or the file")
    if rep.duplicates:
        output.table("Skipped (the same question is already there)", ["line", "id", "same as"],
                     [(i.where, i.id, w) for i, w in rep.duplicates[:30]])
    if rep.dry_run:
        output.say("dry run: nothing written")
    elif rep.version_after:
        output.say(f"pack {rep.pack}: {rep.version_before} -> {rep.version_after}; the change is on the audit trail")
    else:
        output.say("nothing new: nothing written")
    return 0


def register_conformance(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("conformance", help="the deployment against its pack's standard, number by number "
                                           f"(exit {SHORT} when anything required is not met or has no data)")
    p.add_argument("--pack", default="default", help="pack id or directory (default: default)")
    p.add_argument("--product", help="only this product's audit runs (default: all)")
    p.add_argument("--format", dest="fmt", choices=("md", "html", "json"), default=None,
                   help="md (default on a terminal), html or json (also: --json)")
    p.add_argument("--out", help="write the report to this file instead of printing it")
    p.set_defaults(func=cmd_conformance)


def cmd_conformance(ctx: Any) -> int:
    import json as _json
    from pathlib import Path

    from review.services.conformance import MET, conformance, render_html, render_markdown

    a = ctx.args
    rep = conformance(ctx.db, a.pack, a.product)
    fmt = "json" if ctx.json else (a.fmt or "md")
    code = 0 if rep.conforms else SHORT
    if fmt == "json" and not a.out:
        output.emit_json(rep.to_json())
        return code
    text = (_json.dumps(rep.to_json(), indent=2, ensure_ascii=False) if fmt == "json"
            else render_html(rep) if fmt == "html" else render_markdown(rep))
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")
        c = rep.counts()
        output.say(f"{a.out}: {'conforms' if rep.conforms else 'does not conform'} ({c[MET]} met, {c['not met']} not met, "
                   f"{c['no data']} without data)")
        return code
    if fmt == "md" and not ctx.json:
        output.table(f"Conformance with {rep.standard} (pack {rep.pack} {rep.version})",
                     ["area", "requirement", "found", "status", "evidence"],
                     [(r.area, r.requirement, r.found, r.status, r.evidence) for r in rep.rows])
        c = rep.counts()
        output.say(f"{'conforms' if rep.conforms else 'does not conform'}: {c[MET]} met, {c['not met']} not met, "
                   f"{c['no data']} without data")
        return code
    output.say(text)
    return code
