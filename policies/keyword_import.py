"""Reading a keyword import file against a pack's content taxonomy, and writing the terms it adds.

Two formats, told apart by the file name:

* ``.txt``: a keyword file's own lines, ``term[<TAB>severity[<TAB>subcode]]`` (``#`` comments, blank
  lines skipped, ``*term*`` for a term found inside longer words); every term goes to ``--category``;
* ``.csv``: a header naming ``term`` and optionally ``category``, ``severity``, ``subcode`` (a row's
  ``category`` overrides ``--category``; an empty cell means "not given").

A category is a category code of the pack (``weapons``) or a TC260 risk code that one category
answers for alone (``A.4.1`` -> ``self_harm``; ``A.2.5`` -> ``hate_discrimination`` with subcode
``gender``). Every problem is a ``ContentLibraryError`` naming the file, the line, the field, the
value and the fix; nothing is read past the first one.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from policies.content_schema import ContentCategory, ContentLibraryError, ContentSafetyPolicy, parse_severity, split_keyword_line
from review.domain.content.library import Incoming

CSV_COLUMNS = ("term", "category", "severity", "subcode")
MAX_TERM_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def resolve_category(policy: ContentSafetyPolicy, value: str, what: str) -> tuple[ContentCategory, str | None]:
    """A category code, or a TC260 risk code one category answers for alone -> (category, subcode or None)."""
    value = value.strip()
    for c in policy.categories:
        if c.code == value:
            return c, None
    subs = [(c, s) for c in policy.categories for s, r in c.subcodes.items() if r == value]
    if len(subs) == 1:
        return subs[0]
    cats = [c for c in policy.categories if value in c.tc260]
    if len(cats) == 1 and not subs:
        return cats[0], None
    codes = ", ".join(c.code for c in policy.categories)
    if cats or len(subs) > 1:
        which = ", ".join(dict.fromkeys(c.code for c in [*cats, *(c for c, _ in subs)]))
        raise ContentLibraryError(f"{what}: {value!r} is a TC260 risk several categories answer for ({which}); name one of them")
    raise ContentLibraryError(f"{what}: {value!r} is not a category of this pack; use one of {codes}, "
                              "or a TC260 risk code (A.4.1) that one category answers for")


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark dropped), or an error naming the line and byte that are not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ContentLibraryError(f"{name}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x} at column {col}); "
                                  "save the file as UTF-8 and import it again") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_import(path: Path, policy: ContentSafetyPolicy, category: str | None, name: str | None = None) -> list[Incoming]:
    """The terms of an import file, each checked (term, category, severity, subcode) and resolved."""
    name = name or str(path)
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".csv"):
        raise ContentLibraryError(f"{name}: expected a .txt file (one term a line) or a .csv file (columns term, category, "
                                  f"severity, subcode); got {path.suffix or 'no extension'!r}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContentLibraryError(f"{name}: file not found") from None
    text = decode(data, name)
    default = resolve_category(policy, category, "--category") if category is not None else None
    terms = _read_csv(text, name, policy, default) if suffix == ".csv" else _read_txt(text, name, default)
    if not terms:
        raise ContentLibraryError(f"{name}: no terms in the file (nothing to import)")
    return terms


def _read_txt(text: str, name: str, default: tuple[ContentCategory, str | None] | None) -> list[Incoming]:
    if default is None:
        raise ContentLibraryError(f"{name}: a .txt file has no category column; pass --category CODE (or import a .csv "
                                  "with a category column)")
    cat, sub0 = default
    out: list[Incoming] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{name}:{n}"
        term, glued, sev, sub = split_keyword_line(raw, where, cat.subcodes, cat.code)
        out.append(_checked(term, where, cat, sev, sub or sub0, glued, n))
    return out


def _read_csv(text: str, name: str, policy: ContentSafetyPolicy, default: tuple[ContentCategory, str | None] | None) -> list[Incoming]:
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    cols = [h.strip().lower() for h in header or []]
    unknown = [h for h in cols if h not in CSV_COLUMNS]
    if not cols or "term" not in cols or unknown or len(set(cols)) != len(cols):
        why = (f"unknown column {unknown[0]!r}" if unknown else "no 'term' column" if "term" not in cols else "a column named twice")
        raise ContentLibraryError(f"{name}:1: header {', '.join(cols) or '(empty)'!r}: {why}; the first line names the columns: "
                                  f"term (required), category, severity, subcode")
    at = {h: k for k, h in enumerate(cols)}
    out: list[Incoming] = []
    resolved: dict[str, tuple[ContentCategory, str | None]] = {}
    for row in rows:
        n = rows.line_num
        where = f"{name}:{n}"
        if not any(x.strip() for x in row):
            continue
        if len(row) > len(cols):
            raise ContentLibraryError(f"{where}: {len(row)} fields, the header names {len(cols)}; quote a term that holds a comma")
        cell = {h: (row[k].strip() if k < len(row) else "") for h, k in at.items()}
        raw_term = cell["term"]
        if not raw_term:
            raise ContentLibraryError(f"{where}: field term is empty; fill it in or remove the row")
        glued = len(raw_term) > 2 and raw_term.startswith("*") and raw_term.endswith("*")
        term = raw_term[1:-1].strip() if glued else raw_term
        if not glued and "*" in term[:1] + term[-1:]:
            raise ContentLibraryError(f"{where}: field term {term!r}: write *term* (a star on both sides) for a term found "
                                      "inside longer words")
        if cell.get("category"):
            value = cell["category"]
            if value not in resolved:
                resolved[value] = resolve_category(policy, value, f"{where}: field category")
            cat, sub0 = resolved[value]
        elif default is not None:
            cat, sub0 = default
        else:
            raise ContentLibraryError(f"{where}: field category is empty and no --category was given; fill it in or pass "
                                      "--category CODE")
        sev = parse_severity(cell["severity"], f"{where}: field severity", term) if cell.get("severity") else None
        sub = cell.get("subcode") or sub0
        if sub is not None and sub not in cat.subcodes:
            raise ContentLibraryError(f"{where}: field subcode {sub!r} is not one of {sorted(cat.subcodes)} for category "
                                      f"{cat.code}; leave it empty or use one of those")
        out.append(_checked(term, where, cat, sev, sub, glued, n))
    return out


def _checked(term: str, where: str, cat: ContentCategory, sev: int | None, sub: str | None, glued: bool, n: int) -> Incoming:
    """The rules a term obeys to be written to a keyword file and read back the same."""
    from review.domain.content.normalize import canonical_term

    if not term:
        raise ContentLibraryError(f"{where}: field term is empty; fill it in or remove the line")
    if _CONTROL.search(term) or "\t" in term:
        raise ContentLibraryError(f"{where}: field term {term!r} holds a control character (tab, line break, escape); "
                                  "remove it")
    if len(term) > MAX_TERM_CHARS:
        raise ContentLibraryError(f"{where}: field term is {len(term):,} characters, over the {MAX_TERM_CHARS} limit; "
                                  "a term is a word or a phrase")
    if term.startswith("#"):
        raise ContentLibraryError(f"{where}: field term {term!r} starts with '#', which a keyword file reads as a comment; "
                                  "drop the '#'")
    if not canonical_term(term).strip():
        raise ContentLibraryError(f"{where}: field term {term!r} is empty once normalized (only invisible characters "
                                  "or separators); remove the line")
    return Incoming(term, cat.code, n, sev, sub, glued)


def keyword_line(t: Incoming) -> str:
    """``t`` as a keyword-file line (``split_keyword_line`` reads it back as ``t``)."""
    fields = [f"*{t.term}*" if t.glued else t.term, "" if t.severity is None else str(t.severity), t.subcode or ""]
    while len(fields) > 1 and not fields[-1]:
        fields.pop()
    return "\t".join(fields)


_VERSION = re.compile(r'^(version:[ \t]*)(["\']?)(\d+)\.(\d+)(?:\.(\d+))?\2([ \t]*(?:#.*)?)$', re.MULTILINE)


def bump_patch(pack_yaml: str, where: str) -> tuple[str, str, str]:
    """``pack.yaml`` text with its top-level ``version`` one patch up (``1.0.0`` -> ``1.0.1``, ``1.2`` -> ``1.2.1``),
    comments and layout kept: (new text, old version, new version)."""
    found = list(_VERSION.finditer(pack_yaml))
    if len(found) != 1:
        raise ContentLibraryError(f"{where}: expected one top-level line 'version: \"MAJOR.MINOR.PATCH\"' to bump, found "
                                  f"{len(found)}; set the version on one line and import again")
    m = found[0]
    major, minor, patch = m.group(3), m.group(4), int(m.group(5) or 0)
    old = f"{major}.{minor}" + (f".{m.group(5)}" if m.group(5) is not None else "")
    new = f"{major}.{minor}.{patch + 1}"
    q = m.group(2) or '"'
    return pack_yaml[:m.start()] + f"{m.group(1)}{q}{new}{q}{m.group(6)}" + pack_yaml[m.end():], old, new
