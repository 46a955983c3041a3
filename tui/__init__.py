"""The Textual terminal UI for the ethics committee (it calls review.services)."""
