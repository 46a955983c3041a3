"""Scanners that live outside the pure domain: adapters to moderation models reached over HTTP
(``moderation``: ``openai_moderation``, ``llama_guard``) and to a local model from an optional
package (``profanity``: ``profanity_check``), and a refusal judge for model evaluation (``refusal_judge``:
``llm-judge``). ``register()`` puts them in the domain's registries; the audit and evaluation services call it before
they resolve a pack's scanner list or refusal judge.
"""


def register() -> None:
    """Register the adapters (importing their modules does it; no model is loaded here)."""
    from review.plugins import moderation, profanity, refusal_judge  # noqa: F401
