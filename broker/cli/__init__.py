"""The ``qcb`` command line."""

from __future__ import annotations

from broker.cli.main import main

__all__ = ["main"]
