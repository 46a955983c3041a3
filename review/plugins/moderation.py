"""Remote moderation models as scanners.

* ``openai_moderation``: an OpenAI-compatible moderation endpoint, ``POST {url}/moderations``
  with ``{"model", "input": [texts]}``; each result's flagged categories (or, with
  ``threshold``, those scoring at least that) map to the pack's categories through their
  ``openai:`` lists.
* ``llama_guard``: Llama Guard served behind an OpenAI-compatible chat endpoint (vLLM, Ollama,
  TGI), ``POST {url}/chat/completions``; the reply is ``safe`` or ``unsafe`` and a line of
  codes (``S1,S10``), mapped through the categories' ``llama_guard:`` lists. A record's output
  is judged as the assistant's answer to its prompt.

Every text is one unit of work, keyed by a hash of (scanner, model, threshold, what is sent). Units the
scan's ``RESULT_CACHE`` already holds are not sent again; the others go in batches (moderation:
``batch_size`` texts a request; chat: one conversation a request) over ``concurrency`` threads,
at most ``rate_limit`` requests a second, each with a ``timeout``; a timeout, a refused
connection, HTTP 429 or 5xx, or a malformed reply is retried ``retries`` times after
``backoff * 2**attempt`` seconds (or the server's ``Retry-After``). Answers go to the cache as
each request completes, so an endpoint that dies half-way costs only what was not answered.
When the retries run out the scan raises ``ScannerUnavailable`` naming the endpoint: the chunk
is not marked done and the run can be resumed; nothing is ever passed unexamined. That HTTP side
(``RemoteEndpoint``) also questions the model under evaluation (``chat_model``, ``eval run``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Mapping, Sequence

import httpx

from review.domain.content.scanners import RESULT_CACHE, Scanner, ScannerContext, register_scanner
from review.domain.content.taxonomy import FIELDS, FieldName, Finding, Level, Record, metadata_text
from review.errors import ScannerUnavailable, Unavailable, clip

MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is capped (the retries still run out)
_CODES = re.compile(r"^S(?:[1-9]|1[0-4])$")


@dataclass(frozen=True)
class RemoteOptions:
    """The options of a remote scanner (``policies.content_schema.ScannerUse`` validates them in a pack)."""

    url: str
    model: str
    api_key_env: str | None = None
    batch_size: int = 16
    concurrency: int = 4
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    rate_limit: float | None = None
    threshold: float | None = None
    severity: int | None = None


class _RateLimit:
    """At most ``per_second`` request starts a second, across threads (evenly spaced)."""

    def __init__(self, per_second: float | None):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next)
            self.next = at + self.interval
        if at > now:
            time.sleep(at - now)


class _Malformed(ValueError):
    """A reply that does not follow the API (retried like a failure)."""


def _retry_after(r: httpx.Response) -> float | None:
    raw = r.headers.get("Retry-After")
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(raw))) if raw is not None else None
    except ValueError:  # an HTTP date: not worth parsing, the backoff applies
        return None


class RemoteEndpoint:
    """The HTTP side of a remote model: concurrency, rate limit, timeouts, retries with backoff, and answers handed to
    a ``cache`` as each request completes (the scanners below, and the chat model an evaluation run questions)."""

    name = "remote"
    path = ""
    #: what the endpoint is to the person reading an error ("scanner llama_guard"), what stops when it fails and how
    #: to go on once it is back
    role = "scanner"
    job = "audit"
    resume_hint = ("the audit stopped there and passed nothing unexamined: bring the endpoint back (or fix the pack's "
                   "scanners) and resume the run with `ethics-review audit resume RUN`")
    unavailable: type[Unavailable] = ScannerUnavailable

    def __init__(self, options: Mapping[str, Any]):
        self.opts = RemoteOptions(**options)
        self.endpoint = self.opts.url.rstrip("/") + self.path
        headers = {"User-Agent": "ethics-review"}
        if self.opts.api_key_env:
            key = os.environ.get(self.opts.api_key_env)
            if not key:
                raise ValueError(f"api_key_env: the environment variable {self.opts.api_key_env} is not set; export it with the "
                                 f"endpoint's API key before the {self.job} (the key is never stored)")
            headers["Authorization"] = f"Bearer {key}"
        self._headers = headers
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self.rate = _RateLimit(self.opts.rate_limit)

    # ---- what a subclass says
    def request(self, payloads: list[Any]) -> dict[str, Any]:
        raise NotImplementedError

    def answers(self, reply: Any, n: int) -> list[dict[str, Any]]:
        """``n`` answers from a reply (a scanner's: ``{"model", "categories": [...], "scores": {...}}``), or ``_Malformed``."""
        raise NotImplementedError

    @property
    def per_request(self) -> int:
        return self.opts.batch_size

    def _ask(self, missing: list[tuple[str, Any]], cache: Any) -> dict[str, Any]:
        step = self.per_request
        groups = iter([missing[k:k + step] for k in range(0, len(missing), step)])
        out: dict[str, Any] = {}
        width = self.opts.concurrency
        with ThreadPoolExecutor(max_workers=width) as pool:
            # at most two requests a thread queued or in flight: each wait looks at a few futures, not the whole scan
            pending: set[Future[dict[str, Any]]] = {pool.submit(self._ask_group, g) for g in islice(groups, 2 * width)}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)  # answers kept as soon as they are in
                    part = {k: a for fut in done if fut.exception() is None for k, a in fut.result().items()}
                    out.update(part)
                    if cache is not None and part:
                        cache.put_many(self.name, part)
                    for fut in done:
                        fut.result()  # the first failure stops the scan (the answers so far are cached)
                    pending |= {pool.submit(self._ask_group, g) for g in islice(groups, len(done))}
            finally:
                for fut in pending:
                    fut.cancel()
        return out

    def _client(self) -> httpx.Client:
        """One connection pool per endpoint, shared by its threads (made on first use: a filter is built before any fork)."""
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.opts.timeout, headers=self._headers,
                                          limits=httpx.Limits(max_connections=self.opts.concurrency * 4))
            return self._http

    def _ask_group(self, group: list[tuple[str, Any]]) -> dict[str, Any]:
        body = self.request([p for _, p in group])
        last = ""
        delay = 0.0
        for attempt in range(self.opts.retries + 1):
            if attempt:
                time.sleep(delay)
            delay = self.opts.backoff * 2 ** attempt
            self.rate.wait()
            try:
                r = self._client().post(self.endpoint, json=body)
            except httpx.TimeoutException:
                last = f"no answer within {self.opts.timeout:g} s (timeout)"
                continue
            except httpx.HTTPError as exc:
                last = f"cannot connect ({type(exc).__name__}: {exc})"
                continue
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code}"
                told = _retry_after(r)
                delay = delay if told is None else told
                continue
            if r.status_code >= 400:
                raise self.unavailable(f"{self.role} {self.name}: {self.endpoint} refused the request with HTTP {r.status_code} "
                                   f"({clip(r.text, 200)}); check its url, model ({self.opts.model!r}) and the API key in "
                                   f"{self.opts.api_key_env or '(no api_key_env)'}, then resume the run")
            try:
                answers = self.answers(r.json(), len(group))
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
                last = f"a malformed reply ({clip(str(exc), 160)}): {clip(r.text, 120)}"
                continue
            return {k: a for (k, _), a in zip(group, answers, strict=True)}
        raise self.unavailable(f"{self.role} {self.name}: endpoint {self.endpoint} failed {self.opts.retries + 1} time(s), the last "
                               f"with {last}; {self.resume_hint}")


class RemoteScanner(RemoteEndpoint):
    """A remote model as a scanner: its categories mapped to the pack's; subclasses speak one API."""

    remote = True
    taxonomy = ""  # the pack categories' list that maps this model's categories (openai, llama_guard)

    def __init__(self, ctx: ScannerContext, options: Mapping[str, Any]):
        super().__init__(options)
        self.version = self.opts.model
        self.pack_version = ctx.pack_version
        self.level: Callable[[int], str] = ctx.level
        self.to_pack = ctx.mapped(self.taxonomy)
        self.severity_of = ctx.severity_of

    @classmethod
    def factory(cls, ctx: ScannerContext, options: Mapping[str, Any]) -> Scanner:
        return cls(ctx, options)

    # ---- what a subclass says
    def payload(self, record: Record, field: FieldName, text: str) -> Any:
        """What is sent for one text (a string, or a conversation)."""
        return text

    # ---- the scan
    def scan(self, record: Record) -> list[Finding]:
        return self.scan_batch([record], [record.prompt, record.output, metadata_text(record.metadata)], None)

    def scan_batch(self, records: Sequence[Record], texts: Sequence[str], hints: object) -> list[Finding]:
        units: list[tuple[int, str]] = []  # (text index, key)
        todo: dict[str, Any] = {}  # key -> payload, each asked once
        for i, text in enumerate(texts):
            if not text:
                continue
            payload = self.payload(records[i // 3], FIELDS[i % 3], text)
            key = hashlib.sha256(json.dumps([self.name, self.opts.model, self.opts.threshold, payload], ensure_ascii=False).encode()).hexdigest()
            units.append((i, key))
            todo[key] = payload
        if not units:
            return []
        cache = RESULT_CACHE.get()
        got: dict[str, Any] = cache.get_many(list(todo)) if cache is not None else {}
        missing = [(k, p) for k, p in todo.items() if k not in got]
        if missing:
            got.update(self._ask(missing, cache))
        out: list[Finding] = []
        for i, key in units:
            out.extend(self._findings(records[i // 3].id, FIELDS[i % 3], texts[i], got[key]))
        return out

    def _findings(self, record_id: str, field: FieldName, text: str, answer: Mapping[str, Any]) -> list[Finding]:
        hits: dict[str, list[str]] = {}  # pack category -> the model's categories behind it
        for cat in answer["categories"]:
            codes = self.to_pack.get(cat)
            if not codes:
                raise ScannerUnavailable(f"scanner {self.name}: {self.endpoint} flagged category {cat!r}, which no pack category maps "
                                         f"in its {self.taxonomy}: list; map it so the verdict is not dropped, then resume the run")
            for code in codes:
                hits.setdefault(code, []).append(cat)
        scores: Mapping[str, float] = answer.get("scores") or {}
        model = str(answer.get("model") or self.opts.model)
        out = []
        for code, names in sorted(hits.items()):
            score = max((scores[n] for n in names if n in scores), default=None)
            sev = self.opts.severity if self.opts.severity is not None else self.severity_of(code)
            level: Level = self.level(sev)  # type: ignore[assignment]  # a pack's level names are the Level literals
            out.append(Finding(record_id, code, None, sev, level, self.name, self.pack_version, field, 0, len(text), text,
                               f"{self.taxonomy}:{','.join(sorted(names))}", None if score is None else round(score, 4), model))
        return out


class OpenAIModeration(RemoteScanner):
    name = "openai_moderation"
    taxonomy = "openai"
    path = "/moderations"

    def request(self, payloads: list[Any]) -> dict[str, Any]:
        return {"model": self.opts.model, "input": payloads}

    def answers(self, reply: Any, n: int) -> list[dict[str, Any]]:
        results = reply["results"]
        if not isinstance(results, list) or len(results) != n:
            raise _Malformed(f"expected {n} result(s), got {len(results) if isinstance(results, list) else type(results).__name__}")
        model = reply.get("model") or self.opts.model
        out = []
        for res in results:
            flags, scores = res["categories"], res.get("category_scores") or {}
            if not isinstance(flags, dict) or not isinstance(scores, dict):
                raise _Malformed("categories and category_scores must be objects")
            th = self.opts.threshold
            cats = sorted(c for c, s in scores.items() if float(s) >= th) if th is not None else sorted(c for c, v in flags.items() if v is True)
            out.append({"model": str(model), "categories": cats, "scores": {c: float(scores[c]) for c in cats if c in scores}})
        return out


class LlamaGuard(RemoteScanner):
    name = "llama_guard"
    taxonomy = "llama_guard"
    path = "/chat/completions"

    @property
    def per_request(self) -> int:
        return 1  # one conversation a request

    def payload(self, record: Record, field: FieldName, text: str) -> Any:
        if field == "output" and record.prompt:  # the answer, judged in the context of its prompt
            return [{"role": "user", "content": record.prompt}, {"role": "assistant", "content": text}]
        return [{"role": "user", "content": text}]

    def request(self, payloads: list[Any]) -> dict[str, Any]:
        return {"model": self.opts.model, "messages": payloads[0], "temperature": 0, "max_tokens": 32}

    def answers(self, reply: Any, n: int) -> list[dict[str, Any]]:
        content = reply["choices"][0]["message"]["content"]
        lines = [ln.strip() for ln in str(content).strip().splitlines() if ln.strip()]
        if not lines or lines[0].lower() not in ("safe", "unsafe"):
            raise _Malformed(f"expected 'safe' or 'unsafe', got {clip(content, 60)}")
        codes: list[str] = []
        if lines[0].lower() == "unsafe":
            codes = sorted({c.strip() for ln in lines[1:] for c in ln.split(",") if c.strip()}, key=lambda c: (len(c), c))
            if not codes or not all(_CODES.match(c) for c in codes):
                raise _Malformed(f"'unsafe' needs a line of categories S1..S14, got {clip(content, 60)}")
        return [{"model": str(reply.get("model") or self.opts.model), "categories": codes, "scores": {}}]


register_scanner("openai_moderation", OpenAIModeration.factory)
register_scanner("llama_guard", LlamaGuard.factory)
