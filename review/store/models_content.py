"""Tables for AIGC content-safety audits (filled in by the content-audit work)."""
