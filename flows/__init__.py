"""Prefect flows: the review gates, post-release follow-ups and content audits (they call review.services)."""
