"""Tables for post-release follow-ups, feedback and notifications (filled in by the flows work)."""
