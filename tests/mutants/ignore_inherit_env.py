"""rkt run --inherit-env is accepted but the unit's environment never reaches the app."""

from __future__ import annotations

from typing import Any

BREAKS = "Inheriting environment variables specified in the unit with --inherit-env."
KILLED_BY = ("-k", "reaches_the_app_through_inheritenv")


def apply() -> None:
    from rkt_ref import env

    original = env.merge

    def merge(**kwargs: Any) -> dict[str, str]:
        return original(**{**kwargs, "inherited": None})

    env.merge = merge
