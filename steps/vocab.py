"""Shared pieces of the step vocabulary: step patterns, the pod handed between steps.

Steps pass results on through pytest-bdd's ``target_fixture``; the values are the frozen
types below, never a shared mutable context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pytest_bdd import parsers


def _quoted(text: str) -> str:
    return text


# A "{name:q}" field: anything up to the closing quote, never across it. parse's plain "{}"
# is lazy but anchored, so it could swallow a quote and bleed into a neighbouring step.
_quoted.pattern = r'[^"]*'  # type: ignore[attr-defined]

_TYPES: dict[str, Any] = {"q": _quoted}


def step(pattern: str) -> parsers.parse:
    """A ``parsers.parse`` step pattern that knows the ``q`` (quoted text) type."""
    return parsers.parse(pattern, extra_types=_TYPES)


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# How long things take under TCG emulation (see the real rkt's timings: ~35 s to a pod).
POD_START = 150.0


@dataclass(frozen=True)
class Pod:
    """A pod found running for a unit: its UUID, the unit, and the pod it replaced."""

    uuid: str
    unit: str
    previous: Pod | None = None

    @property
    def machine(self) -> str:
        """The machined name the document states: rkt-$UUID."""
        return f"rkt-{self.uuid}"
