"""Scanners that live outside the pure domain: adapters to moderation models reached over HTTP.

Importing ``review.plugins.moderation`` registers them (``openai_moderation``, ``llama_guard``)
in the domain's scanner registry; the audit service imports it before it builds a filter.
"""
