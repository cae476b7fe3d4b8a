"""What diagram code may contain: limits, whitelisted syntax and functions, and vetting.

Everything here runs before or around the interpreter; nothing here executes diagram code.
"""
from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

MAX_STEPS = 200_000
MAX_SECONDS = 1.0
MAX_SEQUENCE = 100_000
MAX_INT_BITS = 4096


class SandboxError(Exception):
    """Raised for anything the sandbox refuses or cannot finish.

    ``message`` is for people (zh-CN); ``detail`` names the construct.
    """

    def __init__(self, message: str, detail: str = ""):
        super().__init__(f"{message}{'：' + detail if detail else ''}")
        self.message = message
        self.detail = detail


_BIN_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY_OPS: dict[type, Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_CMP_OPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}

# Read-only methods that a diagram may call on plain values. Scripts may also
# append to lists; expressions may not change anything.
_ALLOWED_METHODS: dict[type, frozenset[str]] = {
    str: frozenset({"strip", "lower", "upper", "startswith", "endswith", "split",
                    "join", "isdigit", "count", "find"}),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"count", "index"}),
}
_SCRIPT_ONLY_METHODS: dict[type, frozenset[str]] = {list: frozenset({"append"})}
MAX_DATA_NODES = 200_000


def _guarded_join(separator: str) -> Callable[[Any], str]:
    def join(items: Any) -> str:
        items = list(items)
        if sum(len(i) if isinstance(i, str) else 0 for i in items) + len(separator) * len(items) > MAX_SEQUENCE:
            raise SandboxError("序列过长", f"超过 {MAX_SEQUENCE}")
        return separator.join(items)
    return join


def _safe_sum(values: Any, start: int | float = 0) -> int | float:
    if not isinstance(start, (int, float)):
        raise SandboxError("sum 只能用于数字")
    total = start
    for value in values:
        if not isinstance(value, (int, float)):
            raise SandboxError("sum 只能用于数字")
        total += value
    return total


def check_data_size(value: Any) -> None:
    """Refuse data that would explode when stored (deep or self-sharing structures)."""
    budget = MAX_DATA_NODES
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > 64:
            raise SandboxError("数据结构过大或嵌套过深")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend((v, depth + 1) for v in item)


def _bounded_range(*args: int) -> list[int]:
    values = range(*args)
    if len(values) > MAX_SEQUENCE:
        raise SandboxError("序列过长", f"range 长度超过 {MAX_SEQUENCE}")
    return list(values)


SAFE_BUILTINS: dict[str, Any] = {
    "len": len, "min": min, "max": max, "sum": _safe_sum, "abs": abs, "round": round,
    "int": int, "float": float, "str": str, "bool": bool, "sorted": sorted,
    "any": any, "all": all, "list": list, "dict": dict, "set": set,
    "tuple": tuple, "range": _bounded_range,
    "True": True, "False": False, "None": None,
}

_EXPR_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store, ast.Del,
    ast.List, ast.Tuple, ast.Dict, ast.Set, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.Attribute, ast.Subscript,
    ast.Slice, ast.JoinedStr, ast.FormattedValue, ast.ListComp, ast.SetComp,
    ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.And, ast.Or,
    *_BIN_OPS, *_UNARY_OPS, *_CMP_OPS,
)
_STMT_NODES = (
    ast.Module, ast.Assign, ast.AugAssign, ast.Expr, ast.If, ast.For,
    ast.While, ast.Break, ast.Continue, ast.Pass, ast.Delete,
)


def _check_tree(tree: ast.AST, allowed: tuple[type, ...]) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise SandboxError("不允许的语法", type(node).__name__)
        if isinstance(node, ast.Constant) and not isinstance(node.value, (type(None), bool, int, float, str)):
            raise SandboxError("不允许的常量", type(node.value).__name__)  # ..., b"", 1j
        name = getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "arg", None)
        if isinstance(name, str) and name.startswith("_"):
            raise SandboxError("不允许访问以下划线开头的名称", name)
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            if not all(isinstance(v, ast.Constant) for v in node.format_spec.values):
                raise SandboxError("格式说明必须是常量")
            spec = "".join(str(v.value) for v in node.format_spec.values)
            if any(int(n) > 1000 for n in re.findall(r"\d+", spec)):
                raise SandboxError("格式宽度过大")


MAX_SOURCE = 20_000
MAX_AST_DEPTH = 60


def _parse(source: str, mode: str, what: str) -> ast.AST:
    if len(source) > MAX_SOURCE:
        raise SandboxError(f"{what}过长", f"超过 {MAX_SOURCE} 个字符")
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        where = f"第 {exc.lineno} 行：" if mode == "exec" and exc.lineno else ""
        raise SandboxError(f"{what}语法错误", f"{where}{exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise SandboxError(f"{what}嵌套过深或过于复杂") from None
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            raise SandboxError(f"{what}嵌套过深", f"超过 {MAX_AST_DEPTH} 层")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> ast.Expression:
    """Parse and vet an expression; raises :class:`SandboxError`."""
    tree = _parse(source.strip(), "eval", "表达式")
    _check_tree(tree, _EXPR_NODES)
    return tree


@lru_cache(maxsize=1024)
def compile_script(source: str) -> ast.Module:
    """Parse and vet a script; raises :class:`SandboxError`."""
    tree = _parse(source, "exec", "脚本")
    _check_tree(tree, _EXPR_NODES + _STMT_NODES)
    return tree


def unknown_calls(tree: ast.AST, functions: Mapping[str, Any]) -> list[str]:
    """Names called as functions that are neither helpers nor safe builtins."""
    return sorted({node.func.id for node in ast.walk(tree)
                   if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                   and node.func.id not in functions and node.func.id not in SAFE_BUILTINS})


