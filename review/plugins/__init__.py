"""Scanners that live outside the pure domain: adapters to moderation models reached over HTTP
(``moderation``: ``openai_moderation``, ``llama_guard``) and to a local model from an optional
package (``profanity``: ``profanity_check``). ``register()`` puts them in the domain's scanner
registry; the audit service calls it before it resolves a pack's scanner list.
"""


def register() -> None:
    """Register the adapters (importing their modules does it; no model is loaded here)."""
    from review.plugins import moderation, profanity  # noqa: F401
