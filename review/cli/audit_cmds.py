"""CLI commands: AIGC content-safety audits (content-audit work)."""

from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add this module's subcommands to the root parser (none yet)."""
