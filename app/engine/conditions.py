"""Conditions outside diagrams (e.g. a catalog matter's ``applies_when``), in the same sandbox."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import sandbox


def condition_problem(source: str) -> str | None:
    """Why ``source`` is not an acceptable condition, or None."""
    try:
        tree = sandbox.compile_expression(source)
    except sandbox.SandboxError as exc:
        return str(exc)
    unknown = sandbox.unknown_calls(tree, {})
    return f"调用了不允许的函数 {', '.join(unknown)}" if unknown else None


def condition_holds(source: str, data: Mapping[str, Any], *, when_undecidable: bool = True) -> bool:
    """Evaluate against case data; a condition that cannot be decided (a name the data lacks) gives
    ``when_undecidable``."""
    try:
        return bool(sandbox.evaluate(source, data))
    except sandbox.SandboxError:
        return when_undecidable
