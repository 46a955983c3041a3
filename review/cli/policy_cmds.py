"""Policy-pack commands: list, validate, show, crosswalk, lint, keywords import/stats."""

from __future__ import annotations

import argparse
from typing import Any

from review.cli import output


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    pol = sub.add_parser("policy", help="policy packs").add_subparsers(dest="policy_cmd", required=True, metavar="ACTION")
    p = pol.add_parser("list", help="list installed packs")
    p.set_defaults(func=cmd_list)
    p = pol.add_parser("validate", help="validate a pack (directory, pack.yaml or id)")
    p.add_argument("path")
    p.set_defaults(func=cmd_validate)
    p = pol.add_parser("show", help="show a pack: dimensions, questions, triggers, controls")
    p.add_argument("pack", nargs="?", default="default")
    p.add_argument("--questions", action="store_true", help="list every question with its options")
    p.set_defaults(func=cmd_show)
    p = pol.add_parser("crosswalk", help="which of pack A's controls meet which of pack B's obligations, and B's gaps")
    p.add_argument("source", metavar="A", help="pack id, directory or pack.yaml whose controls are mapped")
    p.add_argument("target", metavar="B", help="pack (framework) whose obligations they meet")
    output.csv_option(p)
    p.set_defaults(func=cmd_crosswalk)
    p = pol.add_parser("template", help="print a product file to fill in: profile + every question with its options")
    p.add_argument("pack", nargs="?", default="default")
    p.set_defaults(func=cmd_template)
    p = pol.add_parser("example", help="print a filled-in product file (one of the demo's products) to try the tour with")
    p.add_argument("pack", nargs="?", default="default")
    p.add_argument("--product", default="Warehouse picking robot", help="a demo product's name (`ethics-review demo` lists them)")
    p.set_defaults(func=cmd_example)
    p = pol.add_parser("preview", help="which reviews would change grade under a candidate pack (same id)?")
    p.add_argument("path", help="candidate pack: directory, pack.yaml or id")
    p.add_argument("--status", help="only reviews in this status, e.g. APPROVED")
    p.set_defaults(func=cmd_preview)
    p = pol.add_parser("lint", help="check a pack's keyword library against its stated minimums (e.g. TC260-003)")
    p.add_argument("pack", nargs="?", default="default")
    p.set_defaults(func=cmd_lint)
    kw = pol.add_parser("keywords", help="grow and count a pack's keyword library").add_subparsers(dest="keywords_cmd", required=True,
                                                                                                metavar="ACTION")
    p = kw.add_parser("import", help="add the terms of a .txt (one a line) or .csv (term, category, severity, subcode) file: "
                                     "normalized as the filter reads them, duplicates and collisions skipped, near-duplicates "
                                     "reported, the pack's version bumped, the change on the audit trail (chair or admin)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--pack", required=True, help="pack id or directory")
    p.add_argument("--category", default=None, metavar="CODE", help="category code (weapons) or a TC260 risk one category answers "
                   "for (A.4.1); a .csv row's category column overrides it")
    p.add_argument("--dry-run", action="store_true", help="report what the import would do; write nothing")
    p.set_defaults(func=cmd_keywords_import)
    p = kw.add_parser("stats", help="terms per TC260 risk, each term counted once")
    p.add_argument("pack", nargs="?", default="default")
    output.csv_option(p)
    p.set_defaults(func=cmd_keywords_stats)


def cmd_list(ctx: Any) -> int:
    from policies.loader import available_packs, load_pack

    rows = []
    for pid in available_packs():
        lp = load_pack(pid)
        rows.append({"id": lp.id, "version": lp.version, "title": lp.pack.title, "hash": lp.content_hash, "path": str(lp.path)})
    if ctx.json:
        output.emit_json(rows)
    else:
        output.table("Policy packs", ["id", "version", "title", "hash"], [(r["id"], r["version"], r["title"], r["hash"][:12]) for r in rows])
    return 0


def cmd_validate(ctx: Any) -> int:
    from policies.loader import load_pack

    lp = load_pack(ctx.args.path)
    summary = {"id": lp.id, "version": lp.version, "hash": lp.content_hash, "dimensions": len(lp.pack.dimensions),
               "questions": len(lp.pack.questions), "triggers": len(lp.pack.triggers), "controls": len(lp.pack.controls),
               "content_safety": lp.content_policy is not None, "files": list(lp.files), "grading": lp.pack.grading.model,
               "levels": [lvl.label for lvl in lp.pack.all_levels()]}
    if ctx.json:
        output.emit_json({"valid": True, **summary})
    else:
        output.say(f"{lp.path}: valid pack {lp.id} {lp.version} (#{lp.content_hash[:12]}): {summary['dimensions']} dimensions, "
                   f"{summary['questions']} questions, {summary['triggers']} hard triggers, {summary['controls']} controls, "
                   f"{lp.pack.grading.model} grading"
                   + (", content-safety section" if lp.content_policy is not None else ""))
    return 0


def cmd_show(ctx: Any) -> int:
    from policies.loader import load_pack

    lp = load_pack(ctx.args.pack)
    pk = lp.pack
    if ctx.json:
        output.emit_json({"hash": lp.content_hash, **pk.model_dump(mode="json", by_alias=True, exclude={"content_safety"})})
        return 0
    output.line((pk.title, "bold"), f"  {pk.id} {pk.version}  #{lp.content_hash[:12]}")
    if pk.framework:
        output.say(f"framework: {pk.framework}")
    principles = {p.id: p.title for p in pk.principles}
    gr = pk.grading
    if gr.model == "highest":
        output.say("grading: highest (a dimension's level comes from its thresholds; the highest dimension level wins)")
        output.table("Dimensions", ["id", "title", "principle", "medium", "high", "unacceptable"],
                     [(d.id, d.title, principles[d.principle], d.thresholds.medium, d.thresholds.high, d.thresholds.unacceptable or "-")
                      for d in pk.dimensions if d.thresholds is not None])
    else:
        from review.domain.grading import max_scores

        maxima = max_scores(pk)
        weights = {x.dimension: x.weight for x in gr.score}
        rules = {m.section: m for m in gr.mitigation}
        output.say(f"grading: additive (the weighted points of the scored sections are summed; maximum attainable {maxima.total})")
        output.table("Sections", ["id", "title", "principle", "role"],
                     [(d.id, d.title, principles[d.principle],
                       f"scored x{weights[d.id]}" if d.id in weights else
                       f"mitigation: score x{rules[d.id].factor:g} from {rules[d.id].at_least:.0%} of {maxima.sections[d.id]}" if d.id in rules else "-")
                      for d in pk.dimensions])
    levels = pk.all_levels()
    output.table("Levels", ["grade", "label", "from", "approval (besides the quorum rules)"],
                 [(lvl.grade.value, lvl.label,
                   "-" if i == 0 or gr.model == "highest" else f"above {gr.cut_offs[lvl.grade]:.0%} of the maximum",
                   "blocked" if lvl.blocks_approval else
                   f"{lvl.approvals} approval(s)" + (", the chair's among them" if lvl.require_chair else "") if lvl.extra_sign_off else "-")
                  for i, lvl in enumerate(levels)])
    if ctx.args.questions:
        for q in pk.questions:
            cond = " (conditional)" if q.when else ""
            output.line((q.id, "bold"), f" [{q.kind}]{cond}: {q.text}")
            for o in q.options:
                scores = ", ".join(f"{k}+{v}" for k, v in o.scores.items())
                output.line(f"    {o.id}: {o.label}", (f"  {scores}" if scores else "", "dim"))
    else:
        output.say(f"{len(pk.questions)} questions ({sum(1 for q in pk.questions if q.when)} conditional); --questions lists them")
    output.table("Hard triggers", ["id", "title", "effect"], [(t.id, t.title, f"fix {t.fix.value}" if t.fix else f"floor {t.floor.value}") for t in pk.triggers])
    output.table("Controls", ["id", "title", "dimension", "required from", "verified at"],
                 [(x.id, x.title, x.dimension, x.required_from.value, x.verified_at) for x in pk.controls])
    output.table(f"Follow-ups (visiting the {'supplier' if pk.followups.visit == 'supplier' else 'customers'})",
                 ["grade", "every (days)", "visits", "committee SLA (days)"],
                 [(g.value, cad.every_days, cad.visits, pk.review_sla_days.get(g, "-")) for g, cad in pk.followups.cadence.items()])
    return 0


def cmd_crosswalk(ctx: Any) -> int:
    from policies.loader import load_pack
    from review.domain.crosswalk import crosswalk

    a, b = load_pack(ctx.args.source).pack, load_pack(ctx.args.target).pack
    walk = crosswalk(a, b)
    rows: list[dict[str, Any]] = [{"kind": "link", "control": x.control, "control_title": x.control_title, "obligation": x.obligation,
             "obligation_title": x.obligation_title, "declared_in": list(x.declared_in)} for x in walk.links]
    gaps: list[dict[str, Any]] = [{"kind": "gap", "control": None, "control_title": None, "obligation": o.id, "obligation_title": o.title, "declared_in": []}
            for o in walk.gaps]
    if ctx.json:
        output.emit_json({"source": {"id": a.id, "version": a.version}, "target": {"id": b.id, "version": b.version},
                          "obligations": len(b.controls), "covered": walk.covered(), "links": rows, "gaps": gaps})
    elif ctx.args.format == "csv":
        output.emit_csv({**r, "declared_in": " ".join(r["declared_in"])} for r in rows + gaps)
    else:
        output.table(f"{a.id} {a.version} -> {b.id} {b.version}: {walk.covered()} of {len(b.controls)} obligations met by a control",
                     ["control", "title", "meets", "obligation title", "declared in"],
                     [(x.control, x.control_title, x.obligation, x.obligation_title, ", ".join(x.declared_in)) for x in walk.links])
        output.table(f"Gaps: {len(gaps)} obligation(s) of {b.id} no control of {a.id} maps to",
                     ["obligation", "title", "dimension", "required from"],
                     [(o.id, o.title, o.dimension, o.required_from.value) for o in walk.gaps])
    return 0


def _condition_text(cond: Any) -> str:
    if cond is None:
        return ""
    if cond.answer is not None:
        return f"{cond.answer} is {' or '.join(cond.any_of or [])}"
    if cond.profile is not None:
        return f"{cond.profile} include {' or '.join(cond.any_of or [])}"
    if cond.all is not None:
        return " and ".join(_condition_text(c) for c in cond.all)
    if cond.any is not None:
        return " or ".join(_condition_text(c) for c in cond.any)
    return f"not ({_condition_text(cond.not_)})"


def cmd_template(ctx: Any) -> int:
    """A submission skeleton: the profile, and every question with its options as comments and its answer unset
    (``submit`` refuses an unset answer, naming it: the team has to choose)."""

    from policies.loader import load_pack
    from review.domain.product import Capability, DataCategory, UserGroup

    lp = load_pack(ctx.args.pack)
    lines = [
        f"# Product submission for pack {lp.id} {lp.version}: `ethics-review submit THIS_FILE`.",
        "# Every question whose condition holds for the product must be answered; conditional",
        "# questions that do not apply must be removed (submit says which, by name).",
        "product:",
        "  name: My AI product",
        "  owner_team: my-team                # your team (segregation of duties depends on it)",
        "  business_line: My business line",
        "  description: What it does, for whom.",
        f"  intended_users: [general_public]   # {', '.join(u.value for u in UserGroup)}",
        "  deployment_regions: [CN]",
        f"  data_categories: [personal]        # {', '.join(d.value for d in DataCategory)}",
        f"  capabilities: []                   # {', '.join(c.value for c in Capability)}",
        "  customers: [Customer A, Customer B] # visited by post-release follow-ups",
        f"  policy: {lp.id}",
    ]
    if lp.pack.followups.visit == "supplier":
        lines += [
            "  supplier:                           # the third party reviewed; its contact answers the follow-ups",
            "    name: Supplier Ltd",
            "    contact: Jane Doe, trust & safety lead, trust@supplier.example",
            "    offering: Model X v2 via hosted API",
            "    contract: MSA-2026-014",
        ]
    lines.append("answers:")
    for question in lp.pack.questions:
        lines.append(f"  # {question.text}" + (" (choose any that apply)" if question.kind == "multiple" else ""))
        if question.when is not None:
            lines.append(f"  #   only when: {_condition_text(question.when)}")
        for o in question.options:
            lines.append(f"  #   {o.id}: {o.label}")
        # unset on purpose: a template that pre-fills the lowest-risk answer submits a LOW product unread
        lines.append(f"  {'# ' if question.when is not None else ''}{question.id}:   # unset: {_answer_hint(question)}")
    print("\n".join(lines))
    return 0


def _answer_hint(q: Any) -> str:
    if q.kind == "text":
        hint = f"free text in quotes, at most {q.max_length} characters (stored and shown, never scored)"
    elif q.kind == "multiple":
        hint = f"a list of {'none, one or more ([] for none)' if q.allow_none else 'one or more'} of the options above"
    else:
        hint = "one of the options above"
    return hint + ("; optional: delete the line to leave it unanswered" if q.optional else "")


def cmd_example(ctx: Any) -> int:
    """A demo product's file, answered for the default pack (another pack's questions differ: use its template)."""
    import yaml

    from review.demo.catalog import PRODUCTS, submission
    from review.errors import InvalidInput

    if ctx.args.pack != "default":
        raise InvalidInput(f"policy example {ctx.args.pack}: the examples answer the default pack; for {ctx.args.pack} use "
                           f"`ethics-review policy template {ctx.args.pack}` and answer its questions")
    item = next((p for p in PRODUCTS if p["product"]["name"].lower() == ctx.args.product.strip().lower()), None)
    if item is None:
        raise InvalidInput(f"--product {ctx.args.product!r}: not a demo product; one of: {', '.join(p['product']['name'] for p in PRODUCTS)}")
    doc = submission(item)
    print(f"# An example product file (the demo's {doc['product']['name']!r}): `ethics-review submit THIS_FILE`.")
    print(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), end="")
    return 0


def cmd_preview(ctx: Any) -> int:
    examined, changes = ctx.client.preview_pack(ctx.args.path, status=ctx.args.status)
    if ctx.json:
        output.emit_json({"examined": examined, "changes": [c.to_json() for c in changes]})
        return 0
    output.table(f"Grade changes under {ctx.args.path} ({len(changes)} of {examined} reviews)",
                 ["review", "product", "gate", "status", "stored", "candidate", "detail"],
                 [(c.review_id, c.product, c.gate, c.status, output.grade_text(c.stored_grade, c.stored_label),
                   output.grade_text(c.candidate_grade, c.candidate_label), c.detail) for c in changes])
    return 0


def cmd_lint(ctx: Any) -> int:
    from policies.loader import load_pack
    from review.errors import InvalidInput

    lp = load_pack(ctx.args.pack)
    if lp.content_policy is None:
        raise InvalidInput(f"pack {lp.id} has no content_safety section; nothing to lint")
    from policies.content_schema import lint_library, load_content_library

    library = load_content_library(lp.content_policy, lp.directory)
    issues = lint_library(lp.content_policy, library)
    if ctx.json:
        output.emit_json({"pack": lp.id, "version": lp.version, "ok": not issues, "issues": [getattr(i, "__dict__", str(i)) for i in issues]})
    else:
        if not issues:
            output.say(f"pack {lp.id} {lp.version}: keyword library meets its stated minimums")
        for i in issues:
            output.say(f"short: {getattr(i, 'message', i)}", style="yellow")
    return 0 if not issues else 10


#: Rows per section of the import report on a terminal (``--json`` lists them all).
SHOWN = 30


def cmd_keywords_import(ctx: Any) -> int:
    from review.services.keyword_library import import_keywords

    a = ctx.args
    rep = import_keywords(None if a.dry_run else ctx.db, a.pack, a.file, category=a.category,
                          actor=None if a.dry_run else ctx.actor_or_none, dry_run=a.dry_run)
    if ctx.json:
        output.emit_json(rep.to_json())
        return 0
    p = rep.plan
    dupes, collisions = p.of_kind("duplicate"), p.of_kind("collision")
    per_cat = ", ".join(f"{c} {n}" for c, n in p.added_per_category().items()) or "none"
    output.say(f"{rep.file}: {rep.read} term(s) read; {len(p.added)} new ({per_cat}); {len(dupes)} already in the library or the "
               f"file; {len(collisions)} collision(s) with another category; {len(p.near)} near-duplicate(s)")
    _rows("Collisions (skipped: the same term, as the filter reads it, in another category)",
          ["line", "term", "category", "already", "in category", "where"],
          [(s.incoming.line, s.incoming.term, s.incoming.category, s.existing_term, s.existing_category, s.where) for s in collisions])
    _rows("Near-duplicates (added; check they are meant)", ["line", "term", "category", "resembles", "its category", "where", "why"],
          [(n.incoming.line, n.incoming.term, n.incoming.category, t, c, w, why) for n in p.near for t, c, w, why in n.neighbours])
    _rows("Duplicates (skipped)", ["line", "term", "category", "already", "where", "differs"],
          [(s.incoming.line, s.incoming.term, s.incoming.category, s.existing_term, s.where, s.note) for s in dupes])
    if rep.dry_run:
        output.say(f"dry run: nothing written; pack {rep.pack} stays at {rep.version_before}", style="yellow")
    elif rep.version_after is None:
        output.say(f"nothing new to add: pack {rep.pack} stays at {rep.version_before}")
    else:
        output.say(f"pack {rep.pack}: {rep.version_before} -> {rep.version_after} (#{(rep.hash_after or '')[:12]}); wrote "
                   f"{', '.join(rep.written)}; on the audit trail as policy_pack {rep.pack}", style="green")
    return 0


def _rows(title: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    more = len(rows) - SHOWN
    output.table(f"{title}: {len(rows)}", columns, rows[:SHOWN],
                 caption=f"... and {more} more (--json lists them all)" if more > 0 else None)


def cmd_keywords_stats(ctx: Any) -> int:
    from rich.text import Text

    from review.services.keyword_library import library_stats

    st = library_stats(ctx.args.pack)
    rows = [r.to_json() for r in st.risks]
    if ctx.json:
        output.emit_json({"pack": st.pack, "version": st.version, "terms": st.terms, "rule": st.rule, "risks": rows})
    elif ctx.args.format == "csv":
        output.emit_csv(rows)
    else:
        output.table(f"Keyword library of {st.pack} {st.version}: {st.terms} distinct terms", ["risk", "title", "terms", "minimum", "categories"],
                     [(r.risk, r.title, Text(str(r.terms), style="yellow" if r.terms < r.minimum else ""), r.minimum or "-",
                       ", ".join(r.categories) or "-") for r in st.risks])
        output.say(f"counting: {st.rule}")
    return 0
