"""Errors of the policy package."""

from __future__ import annotations


class PolicyError(ValueError):
    """A policy file is unreadable or invalid; ``errors`` lists every problem with its path."""

    def __init__(self, source: str, errors: list[str]):
        self.source = source
        self.errors = errors
        listing = "\n".join(f"  - {e}" for e in errors)
        super().__init__(f"policy file {source} has {len(errors)} error(s):\n{listing}")
