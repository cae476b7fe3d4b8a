"""A small interpreter for the expressions and scripts that diagrams contain.

Diagrams are authored by analysts and uploaded over HTTP, so their conditions,
script tasks and timer expressions are untrusted input. Python's ``eval`` and
``exec`` cannot be made safe, so we parse with :mod:`ast`, accept only a
whitelisted subset of node types, and walk the tree ourselves:

* names resolve to case data, then to whitelisted helper functions;
* no imports, no ``def``/``lambda``/``class``, no ``try``/``with``;
* no attribute access except a few read-only methods of ``str``/``dict``/``list``;
* nothing whose name starts with an underscore;
* every evaluation has a step budget and a wall-clock budget, and sequences it
  builds are capped in length, so an endless loop or a memory bomb fails fast.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from .interpreter import _Interpreter
from .rules import (MAX_SECONDS, MAX_SEQUENCE, MAX_STEPS, SAFE_BUILTINS, SandboxError, check_data_size,
                    compile_expression, compile_script, unknown_calls)

__all__ = ["MAX_SECONDS", "MAX_SEQUENCE", "MAX_STEPS", "SAFE_BUILTINS", "SandboxError", "check_data_size",
           "compile_expression", "compile_script", "evaluate", "execute", "unknown_calls"]


def evaluate(source: str, names: Mapping[str, Any],
             functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Evaluate an expression against ``names`` (not modified)."""
    tree = compile_expression(source)
    result = _Interpreter(dict(names), functions or {}).eval(tree.body)
    check_data_size(result)
    return result


def execute(source: str, names: dict[str, Any],
            functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
    """Run a script; assignments land in ``names`` only if it succeeds."""
    tree = compile_script(source)
    scope = copy.deepcopy(names)
    _Interpreter(scope, functions or {}, may_mutate=True).run_block(tree.body)
    check_data_size(scope)
    names.clear()
    names.update(scope)
