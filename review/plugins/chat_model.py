"""The model under evaluation behind an OpenAI-compatible chat API (``POST {url}/chat/completions``): one
question a request, the answer's text back. The HTTP side (concurrency, rate limit, timeouts, retries with
backoff and Retry-After, the clear error naming the endpoint) is the remote scanners' (``RemoteEndpoint``)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from review.errors import ModelUnavailable
from review.plugins.moderation import RemoteEndpoint, _Malformed

MAX_TOKENS = 512


class ChatModel(RemoteEndpoint):
    name = "chat"
    path = "/chat/completions"
    role = "model"
    job = "evaluation run"
    resume_hint = ("the run stopped there and counted nothing unanswered: bring the endpoint back and resume it with "
                   "`ethics-review eval resume RUN` (answers already received are kept)")
    unavailable = ModelUnavailable

    @property
    def per_request(self) -> int:
        return 1  # one question a request

    def request(self, payloads: list[Any]) -> dict[str, Any]:
        return {"model": self.opts.model, "messages": [{"role": "user", "content": payloads[0]}], "temperature": 0,
                "max_tokens": MAX_TOKENS}

    def answers(self, reply: Any, n: int) -> list[dict[str, Any]]:
        content = reply["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise _Malformed(f"choices[0].message.content must be text, got {type(content).__name__}")
        return [{"model": str(reply.get("model") or self.opts.model), "text": content}]

    def ask_all(self, questions: Mapping[str, str], store: Callable[[dict[str, dict[str, Any]]], None]) -> None:
        """Ask every question (key -> text); ``store`` gets the answers as they arrive (from this thread). The first
        question that fails after its retries stops the run with ``ModelUnavailable`` (the others stored stand)."""
        if questions:
            self._ask(list(questions.items()), _Store(store))


class _Store:
    """``_ask``'s cache interface, writing where the evaluation run keeps its answers."""

    def __init__(self, store: Callable[[dict[str, dict[str, Any]]], None]):
        self.store = store

    def put_many(self, _name: str, items: dict[str, dict[str, Any]]) -> None:
        self.store(items)
