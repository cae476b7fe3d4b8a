"""SpiffWorkflow's script engine, rebuilt on our sandbox.

SpiffWorkflow routes every condition, script task, timer expression and
multi-instance expression through ``script_engine.environment``; we replace
that environment so nothing reaches Python's ``eval``/``exec``.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from . import sandbox
from .types import Effect


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates against task data plus a fixed set of helper functions."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None):
        super().__init__({})
        self.functions = dict(functions or {})

    def evaluate(self, expression, context, external_context=None):
        names = dict(external_context or {})
        names.update(context)
        return sandbox.evaluate(expression, names, self.functions)

    def execute(self, script, context, external_context=None):
        clash = set(self.functions) & set(context)
        if clash:
            raise sandbox.SandboxError("数据字段与内置函数同名", ", ".join(sorted(clash)))
        sandbox.execute(script, context, self.functions)
        return True

    def call_service(self, context, **kwargs):
        raise sandbox.SandboxError("不支持服务任务调用")


class SandboxScriptEngine(PythonScriptEngine):
    """Service tasks do not run anything here: each call is recorded as an
    :class:`Effect` that the app carries out in the same transaction."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None):
        super().__init__(environment=SandboxEnvironment(functions))
        self.effects: list[Effect] = []

    def validate(self, expression):
        sandbox.compile_expression(expression)

    def call_service(self, task, operation_name=None, operation_params=None, **_kwargs):
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        spec = task.task_spec
        self.effects.append(Effect(operation_name or "", spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, params))
        return json.dumps({"requested": operation_name})


_helpers: dict[str, Callable[..., Any]] = {}


def register_helper(name: str, func: Callable[..., Any]) -> None:
    """Expose ``func`` to diagrams under ``name`` (e.g. calendar helpers)."""
    if name.startswith("_"):
        raise ValueError("helper names must not start with an underscore")
    _helpers[name] = func


def helper_functions() -> dict[str, Callable[..., Any]]:
    return dict(_helpers)


def make_script_engine() -> SandboxScriptEngine:
    return SandboxScriptEngine(_helpers)
