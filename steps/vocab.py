"""Shared pieces of the step vocabulary: step patterns, setup steps, the pod handed between
steps.

Steps pass results on through pytest-bdd's ``target_fixture``; the values are the frozen
types below, never a shared mutable context.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pytest_bdd import parsers

from vm.machine import Machine

T = TypeVar("T")


def _quoted(text: str) -> str:
    return text


# A "{name:q}" field: anything up to the closing quote, never across it. parse's plain "{}"
# is lazy but anchored, so it could swallow a quote and bleed into a neighbouring step.
_quoted.pattern = r'[^"]*'  # type: ignore[attr-defined]

_TYPES: dict[str, Any] = {"q": _quoted}


def step(pattern: str) -> parsers.parse:
    """A ``parsers.parse`` step pattern that knows the ``q`` (quoted text) type."""
    return parsers.parse(pattern, extra_types=_TYPES)


# Arguments of a setup step that are not part of what it sets up.
_NOT_KEYED = ("vm", "request")


def setup_step(function: Callable[..., T]) -> Callable[..., T]:
    """Make a Given whose whole effect is in the machine, and in what it returns, a setup.

    A kept VM that did the same setups in the same order since boot goes back to the
    state they left instead of doing them again (Machine.setup), and the step returns
    what it returned then. The key is the step function with its arguments (the step's
    text, its docstring, and what earlier setups handed on), but not the machine or
    pytest's request. A step that starts something outside the machine is no setup.
    """

    @functools.wraps(function)
    def step_function(**kwargs: Any) -> T:
        vm = kwargs["vm"]
        assert isinstance(vm, Machine), f"{function.__name__}: a setup step needs the vm"
        keyed = sorted((name, value) for name, value in kwargs.items() if name not in _NOT_KEYED)
        key = repr((function.__module__, function.__qualname__, keyed))
        return vm.setup(key, lambda: function(**kwargs))

    return step_function


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
