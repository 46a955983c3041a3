"""Schema of the ``content_safety:`` section of a policy pack, and its library loader.

The section is data: the AIGC risk taxonomy (categories mapped to TC260-003 A.1-A.5,
Llama Guard S1-S14 and OpenAI moderation names), severity roll-up levels, keyword
library files, an allow-list, regex rules, the knowledge base of known-bad exemplars,
the offline classifier, the manual spot-check sampling plan and TC260's stated library
minimums. Paths are relative to the pack directory.

``load_content_library`` reads the referenced files into a ``ContentLibrary``;
``lint_library`` says precisely where the library falls short of the stated minimums.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from review.errors import InvalidInput

Strict = ConfigDict(extra="forbid", frozen=True)
REFUSAL_LANGS = ("en", "zh")
Code = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", min_length=1, max_length=64)

# TC260-003 (2024) Appendix A: 5 classes, 31 risks. Titles are short English glosses.
TC260_RISKS: dict[str, str] = {
    "A.1.1": "inciting subversion of state power",
    "A.1.2": "endangering national security, interests or image",
    "A.1.3": "inciting separatism, undermining national unity",
    "A.1.4": "promoting terrorism or extremism",
    "A.1.5": "promoting ethnic hatred or discrimination",
    "A.1.6": "promoting violence, obscenity or pornography",
    "A.1.7": "spreading false harmful information",
    "A.1.8": "other content prohibited by law",
    "A.2.1": "discrimination by ethnicity",
    "A.2.2": "discrimination by belief",
    "A.2.3": "discrimination by country",
    "A.2.4": "discrimination by region",
    "A.2.5": "discrimination by gender",
    "A.2.6": "discrimination by age",
    "A.2.7": "discrimination by occupation",
    "A.2.8": "discrimination by health",
    "A.2.9": "other discrimination",
    "A.3.1": "infringing intellectual property",
    "A.3.2": "violating business ethics",
    "A.3.3": "leaking trade secrets",
    "A.3.4": "monopoly or unfair competition",
    "A.3.5": "other commercial violations",
    "A.4.1": "endangering physical or mental health",
    "A.4.2": "infringing portrait rights",
    "A.4.3": "infringing reputation rights",
    "A.4.4": "infringing honour rights",
    "A.4.5": "infringing privacy rights",
    "A.4.6": "infringing personal information rights",
    "A.4.7": "infringing other legitimate rights",
    "A.5.1": "inaccurate content for high-security uses",
    "A.5.2": "unreliable content for high-security uses",
}
LLAMA_GUARD = {f"S{i}" for i in range(1, 15)}
OPENAI_MODERATION = {
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
}


class SeverityLevel(BaseModel):
    """One roll-up level: severities ``low..high`` (inclusive, 0-7) map to ``name``."""

    model_config = Strict
    name: Literal["safe", "low", "medium", "high"]
    low: int = Field(ge=0, le=7)
    high: int = Field(ge=0, le=7)


DEFAULT_LEVELS = (
    SeverityLevel(name="safe", low=0, high=0),
    SeverityLevel(name="low", low=1, high=2),
    SeverityLevel(name="medium", low=3, high=4),
    SeverityLevel(name="high", low=5, high=7),
)


class ContentCategory(BaseModel):
    model_config = Strict
    code: str = Code
    title: str
    tc260: list[str] = Field(min_length=1)
    llama_guard: list[str] = []
    openai: list[str] = []
    default_severity: int = Field(default=4, ge=0, le=7)
    subcodes: dict[str, str] = {}  # subcode -> TC260 risk it maps to (e.g. ethnicity -> A.2.1)
    keywords: str | None = None  # path of a keyword file, relative to the pack
    #: how strictly the category's terms match: ``word`` (default) needs a word boundary on both sides of a Latin
    #: term; ``none`` finds every term inside longer words too (as ``*term*`` does for one term), for categories
    #: whose terms no ordinary word contains
    boundary: Literal["word", "none"] = "word"
    #: ``1``: terms of five letters or more are also found one typo away (two adjacent letters swapped, one letter
    #: missing; never the first or last letter). ``bench filter`` measures what it costs in false fires.
    typos: Literal[0, 1] = 0

    @model_validator(mode="after")
    def _known_codes(self) -> "ContentCategory":
        for r in [*self.tc260, *self.subcodes.values()]:
            if r not in TC260_RISKS:
                raise ValueError(f"unknown TC260-003 risk {r!r} (expected one of A.1.1 .. A.5.2)")
        for s in self.llama_guard:
            if s not in LLAMA_GUARD:
                raise ValueError(f"unknown Llama Guard category {s!r} (expected S1..S14)")
        for o in self.openai:
            if o not in OPENAI_MODERATION:
                raise ValueError(f"unknown OpenAI moderation category {o!r}")
        return self


class RegexRule(BaseModel):
    model_config = Strict
    id: str = Code
    pattern: str
    category: str = Code
    subcode: str | None = None
    severity: int = Field(ge=0, le=7)
    validator: Literal["none", "cn_id_checksum", "luhn"] = "none"
    ignore_case: bool = False

    @model_validator(mode="after")
    def _compiles(self) -> "RegexRule":
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        return self


class KnowledgeBaseConfig(BaseModel):
    model_config = Strict
    file: str
    shingle: int = Field(default=5, ge=2, le=12)
    num_perm: int = Field(default=64, ge=8, le=512)
    bands: int = Field(default=16, ge=1)
    threshold: float = Field(default=0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _bands_divide(self) -> "KnowledgeBaseConfig":
        if self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")
        return self


class ClassifierConfig(BaseModel):
    model_config = Strict
    enabled: bool = True
    weights: str
    threshold: float = Field(default=0.8, gt=0, le=1)
    max_chars: int = Field(default=2000, ge=50)


#: Scanners the engine builds in; ``openai_moderation`` and ``llama_guard`` call a model over HTTP.
LOCAL_SCANNERS = ("keyword", "regex", "knowledge_base", "classifier")
REMOTE_SCANNERS = ("openai_moderation", "llama_guard")
_REMOTE_FIELDS = ("url", "model", "api_key_env", "batch_size", "concurrency", "timeout", "retries", "backoff", "rate_limit",
                  "threshold", "severity")
_SECRET_NAMES = {"api_key", "apikey", "key", "token", "secret", "password", "authorization", "bearer"}


class ScannerUse(BaseModel):
    """One entry of ``content_safety.scanners``: ``use`` names a built-in scanner or a plugin
    (entry point group ``ethics_review.scanners``); the other keys are its options. The remote
    options are typed here; a plugin's own options pass through to its factory."""

    model_config = ConfigDict(extra="allow", frozen=True)
    use: str = Code
    url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", description="the endpoint's base URL, e.g. http://host:8000/v1")
    model: str | None = Field(default=None, min_length=1, max_length=128)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="the environment variable holding the API key (never the key itself)")
    batch_size: int = Field(default=16, ge=1, le=2048, description="texts per request (moderation endpoints)")
    concurrency: int = Field(default=4, ge=1, le=64, description="requests in flight at once")
    timeout: float = Field(default=30.0, gt=0, le=600, description="seconds per request")
    retries: int = Field(default=3, ge=0, le=10, description="retries of a failed request (timeouts, 5xx, 429, malformed replies)")
    backoff: float = Field(default=0.5, ge=0, le=60, description="first retry delay in seconds, doubled each retry (Retry-After wins)")
    rate_limit: float | None = Field(default=None, gt=0, description="requests per second at most")
    threshold: float | None = Field(default=None, gt=0, le=1,
                                    description="openai_moderation: flag a category at this score (default: the endpoint's own flags)")
    severity: int | None = Field(default=None, ge=0, le=7, description="severity of its findings (default: the category's)")

    @model_validator(mode="after")
    def _options(self) -> "ScannerUse":
        secrets = sorted(k for k in (self.model_extra or {}) if k.lower().replace("-", "_") in _SECRET_NAMES)
        if secrets:
            raise ValueError(f"scanner {self.use!r}: option {secrets[0]!r} looks like a credential; never put a key in the pack: "
                             "export it and name the variable with api_key_env: NAME")
        given = [f for f in _REMOTE_FIELDS if f in self.model_fields_set]
        if self.use in LOCAL_SCANNERS and (given or self.model_extra):
            bad = (given or sorted(self.model_extra or {}))[0]
            raise ValueError(f"scanner {self.use!r} takes no option {bad!r} (it is configured by its own section of content_safety)")
        if self.use in REMOTE_SCANNERS:
            if self.url is None:
                raise ValueError(f"scanner {self.use!r} needs url: the endpoint's base URL (e.g. http://127.0.0.1:8000/v1)")
            if self.model is None:
                raise ValueError(f"scanner {self.use!r} needs model: the model name the endpoint serves")
            if self.model_extra:
                raise ValueError(f"scanner {self.use!r}: unknown option {sorted(self.model_extra)[0]!r}; "
                                 f"its options are {', '.join(_REMOTE_FIELDS)}")
        return self

    def options(self) -> dict[str, Any]:
        """The options as the scanner's factory gets them (a plugin's own keys included)."""
        out = self.model_dump(exclude={"use"}, exclude_unset=True)
        if self.use in REMOTE_SCANNERS:  # the typed defaults count for the built-in remote scanners
            out = {f: getattr(self, f) for f in _REMOTE_FIELDS}
        return out


_JUDGE_FIELDS = ("url", "model", "api_key_env", "concurrency", "timeout", "retries", "backoff", "rate_limit")


class RefusalJudgeUse(BaseModel):
    """``content_safety.refusal_judge``: a model that decides whether an answer of ``eval run`` is a refusal, besides the
    pack's ``refusal_patterns``. ``use`` names a built-in judge (``llm-judge``: a chat model behind an OpenAI-compatible
    endpoint, ``POST {url}/chat/completions``) or a plugin published under the entry-point group
    ``ethics_review.refusal_judges``; the other keys are its options. ``ask``: ``unmatched`` (default) asks the judge
    only about answers no pattern matched (a pattern match is a refusal), ``all`` lets it decide every answer."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    use: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", validation_alias=AliasChoices("url", "endpoint"),
                            description="the judge's base URL, e.g. http://127.0.0.1:8000/v1 (also spelled endpoint)")
    model: str | None = Field(default=None, min_length=1, max_length=128)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="the environment variable holding the judge's API key (never the key itself)")
    concurrency: int = Field(default=4, ge=1, le=64)
    timeout: float = Field(default=30.0, gt=0, le=600)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=0.5, ge=0, le=60)
    rate_limit: float | None = Field(default=None, gt=0)
    ask: Literal["unmatched", "all"] = "unmatched"

    @model_validator(mode="after")
    def _options(self) -> "RefusalJudgeUse":
        secrets = sorted(k for k in (self.model_extra or {}) if k.lower().replace("-", "_") in _SECRET_NAMES)
        if secrets:
            raise ValueError(f"refusal_judge {self.use!r}: option {secrets[0]!r} looks like a credential; never put a key in the "
                             "pack: export it and name the variable with api_key_env: NAME")
        if self.use == "llm-judge":
            if self.url is None:
                raise ValueError("refusal_judge llm-judge needs url: the judge's base URL (e.g. http://127.0.0.1:8000/v1)")
            if self.model is None:
                raise ValueError("refusal_judge llm-judge needs model: the model name the endpoint serves")
            if self.model_extra:
                raise ValueError(f"refusal_judge llm-judge: unknown option {sorted(self.model_extra)[0]!r}; its options are "
                                 f"{', '.join((*_JUDGE_FIELDS, 'ask'))}")
        return self

    def options(self) -> dict[str, Any]:
        """The options as the judge's factory gets them (a plugin's own keys included; not ``use`` and ``ask``)."""
        out = {f: getattr(self, f) for f in _JUDGE_FIELDS}
        out.update(self.model_extra or {})
        return out


class SamplingPlan(BaseModel):
    """Manual spot-check plan: fixed minimum, or confidence + margin (whichever is larger)."""

    model_config = Strict
    min_sample: int | None = Field(default=1000, ge=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    margin: float | None = Field(default=None, gt=0, lt=1)
    stratify_by: list[Literal["flagged", "category"]] = ["flagged", "category"]
    min_per_stratum: int = Field(default=5, ge=0)
    pass_threshold: float = Field(default=0.90, gt=0, le=1)
    interval_confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int | None = None

    @model_validator(mode="after")
    def _some_size(self) -> "SamplingPlan":
        if self.min_sample is None and self.margin is None:
            raise ValueError("set min_sample, margin, or both")
        return self


class LibraryMinimums(BaseModel):
    model_config = Strict
    total: int = Field(default=10_000, ge=0)
    per_a1_risk: int = Field(default=200, ge=0)
    per_a2_risk: int = Field(default=100, ge=0)

    def for_risk(self, risk: str) -> int:
        """The stated minimum for one TC260 risk (A.1 and A.2 risks have one, the others none)."""
        return self.per_a1_risk if risk.startswith("A.1.") else self.per_a2_risk if risk.startswith("A.2.") else 0


class TestBanks(BaseModel):
    """The pack's test banks (``policies.banks``): JSON Lines files relative to the pack."""

    model_config = Strict
    generated: str | None = None
    should_refuse: str | None = None
    must_not_refuse: str | None = None
    #: a starter bank (a few questions per risk to begin with), not one that meets the standard: lint says so
    starter: bool = False

    def paths(self) -> dict[str, str | None]:
        return {"generated": self.generated, "should_refuse": self.should_refuse, "must_not_refuse": self.must_not_refuse}


class ContentSafetyPolicy(BaseModel):
    """The ``content_safety:`` section of a policy pack (all paths relative to the pack)."""

    model_config = Strict
    severity_levels: list[SeverityLevel] = list(DEFAULT_LEVELS)
    categories: list[ContentCategory] = Field(min_length=1)
    allow_list: str | None = None
    regex_rules: list[RegexRule] = []
    knowledge_base: KnowledgeBaseConfig | None = None
    classifier: ClassifierConfig | None = None
    sampling: SamplingPlan = SamplingPlan()
    minimums: LibraryMinimums = LibraryMinimums()
    #: the pack control a content audit's verdict counts for: a pass becomes its evidence, a fail rejects it
    audit_control: str | None = None
    #: the pack control a model evaluation run (``eval run``) counts for: a run over every bank that meets every bar
    #: becomes its evidence, a run that misses a bar rejects it
    eval_control: str | None = None
    #: the standard the deployment is held to: an id (``policies/standards/<id>.yaml``) or a YAML file in the pack
    #: (relative to it); its figures are data, not code
    standard: str | None = None
    banks: TestBanks | None = None
    #: how the model under evaluation says no (``eval run``): regular expressions per language (``en``, ``zh``),
    #: searched, case-insensitively, in the opening of each answer
    refusal_patterns: dict[str, list[str]] = {}
    #: an optional model that judges refusals besides the patterns (``RefusalJudgeUse``)
    refusal_judge: RefusalJudgeUse | None = None
    #: the scanners of an audit, in order; absent: the built-ins the section configures (keyword, regex,
    #: knowledge_base when it has a file, classifier when enabled), which is what audits ran before the list existed
    scanners: list[ScannerUse] | None = Field(default=None, min_length=1)
    #: metadata fields of an image, audio or video record that carry its text (OCR, transcript, caption): a
    #: media record without one is reported as not examined, never as clean
    media_text_fields: list[str] = Field(default=["caption", "alt_text", "alt", "ocr", "ocr_text", "transcript", "subtitles",
                                                  "description"], min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _hide_secrets(cls, data: Any) -> Any:
        """A credential written into a scanner entry is refused (``ScannerUse``); its value never reaches the error message."""
        if isinstance(data, dict) and isinstance(data.get("scanners"), list):
            data = {**data, "scanners": [{k: "(hidden)" if str(k).lower().replace("-", "_") in _SECRET_NAMES else v for k, v in e.items()}
                                         if isinstance(e, dict) else e for e in data["scanners"]]}
        if isinstance(data, dict) and isinstance(data.get("refusal_judge"), dict):
            data = {**data, "refusal_judge": {k: "(hidden)" if str(k).lower().replace("-", "_") in _SECRET_NAMES else v
                                              for k, v in data["refusal_judge"].items()}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "ContentSafetyPolicy":
        covered = sorted(s for lv in self.severity_levels for s in range(lv.low, lv.high + 1))
        if covered != list(range(8)):
            raise ValueError("severity_levels must cover 0..7 exactly once each")
        codes = [c.code for c in self.categories]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate category code(s): {', '.join(dupes)}")
        for i, rule in enumerate(self.regex_rules):
            if rule.category not in codes:
                raise ValueError(f"regex_rules[{i}] ({rule.id}): unknown category {rule.category!r}; known: {', '.join(codes)}")
        self._check_scanners()
        self._check_refusal_patterns()
        return self

    def _check_refusal_patterns(self) -> None:
        for lang, pats in self.refusal_patterns.items():
            if lang not in REFUSAL_LANGS:
                raise ValueError(f"refusal_patterns: language {lang!r} is not one of {', '.join(REFUSAL_LANGS)}; "
                                 "list the patterns under en or zh")
            for i, pat in enumerate(pats):
                where = f"refusal_patterns.{lang}[{i}] ({pat!r})"
                try:
                    rx = re.compile(pat, re.IGNORECASE)
                except re.error as exc:
                    raise ValueError(f"{where}: not a regular expression ({exc}); fix it (escape ( ) [ ] . ? * + with a backslash)") from None
                if rx.search("") is not None:
                    raise ValueError(f"{where}: matches the empty text, so every answer would count as a refusal; make it "
                                     "match words a refusal says")

    def _check_scanners(self) -> None:
        seen: dict[str, int] = {}
        for i, sc in enumerate(self.scanners or []):
            where = f"scanners[{i}] ({sc.use})"
            if sc.use in seen:
                raise ValueError(f"{where}: listed twice (first at scanners[{seen[sc.use]}]); list each scanner once")
            seen[sc.use] = i
            if sc.use == "knowledge_base" and self.knowledge_base is None:
                raise ValueError(f"{where}: the pack has no knowledge_base section to match against; add one or drop the scanner")
            if sc.use == "classifier" and (self.classifier is None or not self.classifier.enabled):
                raise ValueError(f"{where}: the pack's classifier section is missing or disabled; add it (enabled: true) or drop the scanner")
            field, names = {"openai_moderation": ("openai", OPENAI_MODERATION), "llama_guard": ("llama_guard", LLAMA_GUARD)}.get(
                sc.use, ("", set()))
            if field:
                mapped = {n for c in self.categories for n in getattr(c, field)}
                missing = sorted(names - mapped, key=lambda n: (len(n), n))
                if missing:
                    raise ValueError(f"{where}: the model's categories {', '.join(missing)} map to no pack category; add each to "
                                     f"a category's {field}: list, so no verdict of the model is dropped")

    def scanner_uses(self) -> list[ScannerUse]:
        """The listed scanners, or the built-ins this section configures when none are listed."""
        if self.scanners is not None:
            return list(self.scanners)
        names = ["keyword", "regex"] if self.regex_rules else ["keyword"]
        if self.knowledge_base is not None:
            names.append("knowledge_base")
        if self.classifier is not None and self.classifier.enabled:
            names.append("classifier")
        return [ScannerUse(use=n) for n in names]

    def category(self, code: str) -> ContentCategory:
        for c in self.categories:
            if c.code == code:
                return c
        raise KeyError(code)

    def level_of(self, severity: int) -> str:
        for lv in self.severity_levels:
            if lv.low <= severity <= lv.high:
                return lv.name
        raise ValueError(f"severity {severity} outside 0..7")

    def referenced_files(self) -> list[str]:
        """Every file this section names, relative to the pack dir, sorted and unique."""
        files = [c.keywords for c in self.categories if c.keywords]
        if self.allow_list:
            files.append(self.allow_list)
        if self.knowledge_base:
            files.append(self.knowledge_base.file)
        if self.classifier:
            files.append(self.classifier.weights)
        if self.banks:
            files.extend(p for p in self.banks.paths().values() if p)
        if self.standard and self.standard.endswith((".yaml", ".yml")):  # a standard file of the pack's own
            files.append(self.standard)
        return sorted(set(files))


def level_for(severity: int, levels: list[SeverityLevel] | tuple[SeverityLevel, ...] = DEFAULT_LEVELS) -> str:
    for lv in levels:
        if lv.low <= severity <= lv.high:
            return lv.name
    raise ValueError(f"severity {severity} outside 0..7")


# ---------------------------------------------------------------- library


@dataclass(frozen=True)
class Keyword:
    term: str
    category: str
    severity: int
    subcode: str | None
    source: str  # "file:line"
    #: written ``*term*`` (or in a ``boundary: none`` category): found inside longer words too ("buyfentanylnow"),
    #: for terms no ordinary word contains
    glued: bool = False
    typos: int = 0  # the category's ``typos``


@dataclass(frozen=True)
class Exemplar:
    id: str
    category: str
    severity: int
    text: str


@dataclass
class ContentLibrary:
    """The files of a content_safety section, read and checked."""

    keywords: list[Keyword] = field(default_factory=list)
    allow_list: list[str] = field(default_factory=list)
    exemplars: list[Exemplar] = field(default_factory=list)
    classifier_weights: dict | None = None

    def terms_by_category(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k in self.keywords:
            out.setdefault(k.category, []).append(k.term)
        return out


class ContentLibraryError(InvalidInput):
    """A bad line in a keyword, allow-list or knowledge-base file (names file and line)."""


def _read_lines(path: Path, rel: str):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentLibraryError(f"{rel}: file not found (paths are relative to the pack directory)") from None
    except UnicodeDecodeError as exc:
        raise ContentLibraryError(f"{rel}: not UTF-8 ({exc})") from None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        yield n, raw.rstrip("\r\n")


def split_keyword_line(raw: str, where: str, subcodes: dict[str, str], category: str) -> tuple[str, bool, int | None, str | None]:
    """One keyword-file line (``term[<TAB>severity[<TAB>subcode]]``, ``*term*`` for a glued term) as
    (term, glued, severity or None for the category's default, subcode or None)."""
    parts = [p.strip() for p in raw.split("\t")]
    term = parts[0]
    glued = len(term) > 2 and term.startswith("*") and term.endswith("*")
    if glued:
        term = term[1:-1].strip()
    elif "*" in term[:1] + term[-1:]:
        raise ContentLibraryError(f"{where}: {term!r}: write *term* (a star on both sides) for a term found inside longer words")
    if not term:
        raise ContentLibraryError(f"{where}: empty term before a tab")
    if len(parts) > 3:
        raise ContentLibraryError(f"{where}: expected 'term', 'term<TAB>severity' or 'term<TAB>severity<TAB>subcode', got {len(parts)} tab-separated fields")
    sev = None
    if len(parts) >= 2 and parts[1]:
        sev = parse_severity(parts[1], f"{where}: severity", term)
    sub = parts[2] if len(parts) == 3 and parts[2] else None
    if sub is not None and sub not in subcodes:
        raise ContentLibraryError(f"{where}: subcode {sub!r} is not one of {sorted(subcodes)} for category {category}")
    return term, glued, sev, sub


def parse_severity(text: str, what: str, term: str) -> int:
    """A severity 0-7 written as text, or ``ContentLibraryError`` naming ``what`` (file, line, field) and the term."""
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 7:
        raise ContentLibraryError(f"{what} {text!r} for {term!r} must be an integer 0-7 (0 safe .. 7 most severe)")
    return int(text)


def load_content_library(policy: ContentSafetyPolicy, pack_dir: Path) -> ContentLibrary:
    """Read keyword files (``term[<TAB>severity[<TAB>subcode]]``, ``#`` comments), the
    allow-list (one phrase a line), the knowledge base (JSON lines with id, category,
    severity, text) and the classifier weights. Raises ``ContentLibraryError`` naming the
    file and line of the first bad line."""
    pack_dir = Path(pack_dir)
    lib = ContentLibrary()
    codes = {c.code for c in policy.categories}
    for cat in policy.categories:
        if not cat.keywords:
            continue
        seen: set[str] = set()
        for n, raw in _read_lines(pack_dir / cat.keywords, cat.keywords):
            where = f"{cat.keywords}:{n}"
            term, glued, severity, sub = split_keyword_line(raw, where, cat.subcodes, cat.code)
            sev = cat.default_severity if severity is None else severity
            if term.casefold() in seen:
                continue
            seen.add(term.casefold())
            lib.keywords.append(Keyword(term, cat.code, sev, sub, where, glued or cat.boundary == "none", cat.typos))
    if policy.allow_list:
        lib.allow_list = [raw.strip() for _, raw in _read_lines(pack_dir / policy.allow_list, policy.allow_list)]
    if policy.knowledge_base:
        rel = policy.knowledge_base.file
        ids: set[str] = set()
        for n, raw in _read_lines(pack_dir / rel, rel):
            try:
                obj = json.loads(raw)
                ex = Exemplar(str(obj["id"]), str(obj["category"]), int(obj.get("severity", 5)), str(obj["text"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ContentLibraryError(f"{rel}:{n}: expected a JSON object with id, category, severity, text ({exc})") from None
            if ex.category not in codes:
                raise ContentLibraryError(f"{rel}:{n}: unknown category {ex.category!r}")
            if ex.id in ids:
                raise ContentLibraryError(f"{rel}:{n}: duplicate exemplar id {ex.id!r}")
            ids.add(ex.id)
            lib.exemplars.append(ex)
    if policy.classifier and policy.classifier.enabled:
        rel = policy.classifier.weights
        try:
            lib.classifier_weights = json.loads((pack_dir / rel).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ContentLibraryError(f"{rel}: classifier weights not found; run python -m review.domain.content.train_classifier") from None
        except ValueError as exc:
            raise ContentLibraryError(f"{rel}: not valid JSON ({exc})") from None
    return lib


@dataclass(frozen=True)
class LintIssue:
    scope: str  # "total" or a TC260 risk code
    have: int
    need: int
    message: str


def lint_library(policy: ContentSafetyPolicy, library: ContentLibrary) -> list[LintIssue]:
    """Check the keyword library against the stated minimums (total, per A.1, per A.2 risk).

    A keyword counts towards every TC260 risk its category maps to; a keyword with a
    subcode counts towards that subcode's risk (e.g. hate/gender -> A.2.5) instead of the
    category's A.2 risks."""
    m = policy.minimums
    issues: list[LintIssue] = []
    total = len({(k.term.casefold()) for k in library.keywords})
    if total < m.total:
        issues.append(LintIssue("total", total, m.total, f"total: {total} keywords, needs {m.total}"))
    per_risk: dict[str, set[str]] = {r: set() for r in TC260_RISKS}
    cats = {c.code: c for c in policy.categories}
    for k in library.keywords:
        cat = cats[k.category]
        risks = set(cat.tc260)
        if k.subcode:
            risks = {r for r in risks if not r.startswith("A.2.")} | {cat.subcodes[k.subcode]}
        for r in risks:
            per_risk[r].add(k.term.casefold())
    for risk, title in TC260_RISKS.items():
        need = m.for_risk(risk)
        have = len(per_risk[risk])
        if have < need:
            issues.append(LintIssue(risk, have, need, f"{risk} ({title}): {have} keywords, needs {need}"))
    return issues
