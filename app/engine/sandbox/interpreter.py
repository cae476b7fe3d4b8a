"""The tree-walking interpreter for vetted diagram code (one instance per evaluation)."""
from __future__ import annotations

import ast
import time
from collections.abc import Callable, Mapping
from typing import Any

from .rules import (_ALLOWED_METHODS, _BIN_OPS, _CMP_OPS, _SCRIPT_ONLY_METHODS, _UNARY_OPS, MAX_INT_BITS,
                    MAX_SECONDS, MAX_SEQUENCE, MAX_STEPS, SAFE_BUILTINS, SandboxError, _guarded_join)

class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Interpreter:
    """Walks a vetted tree. One instance per evaluation (it holds the budget)."""

    def __init__(self, names: dict[str, Any], functions: Mapping[str, Callable[..., Any]],
                 may_mutate: bool = False):
        self.may_mutate = may_mutate
        self.names = names
        self.functions = functions
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    # -- budget ---------------------------------------------------------------
    def _tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SandboxError("执行步数超出上限", str(MAX_STEPS))
        if self.steps % 256 == 0 and time.monotonic() > self.deadline:
            raise SandboxError("执行超时", f"{MAX_SECONDS} 秒")

    @staticmethod
    def _cap(value: Any) -> Any:
        if isinstance(value, (str, list, tuple, dict, set)) and len(value) > MAX_SEQUENCE:
            raise SandboxError("序列过长", f"超过 {MAX_SEQUENCE}")
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise SandboxError("数值过大")
        return value

    # -- statements -----------------------------------------------------------
    def run_block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.run_stmt(stmt)

    def run_stmt(self, node: ast.stmt) -> None:
        self._tick()
        if isinstance(node, ast.Expr):
            self.eval(node.value)
        elif isinstance(node, ast.Assign):
            value = self.eval(node.value)
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, ast.AugAssign):
            current = self.eval(_as_load(node.target))
            self.assign(node.target, self._binop(node.op, current, self.eval(node.value)))
        elif isinstance(node, ast.If):
            self.run_block(node.body if self.eval(node.test) else node.orelse)
        elif isinstance(node, ast.For):
            self._run_for(node)
        elif isinstance(node, ast.While):
            self._run_while(node)
        elif isinstance(node, ast.Break):
            raise _Break()
        elif isinstance(node, ast.Continue):
            raise _Continue()
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self.delete(target)
        # ast.Pass: nothing to do

    def _loop_body(self, body: list[ast.stmt]) -> bool:
        """Run one round of a loop; True if it ended with ``break``."""
        try:
            self.run_block(body)
        except _Break:
            return True
        except _Continue:
            pass
        return False

    def _run_for(self, node: ast.For) -> None:
        for item in list(self.eval(node.iter)):
            self.assign(node.target, item)
            if self._loop_body(node.body):
                return
        self.run_block(node.orelse)

    def _run_while(self, node: ast.While) -> None:
        while self.eval(node.test):
            if self._loop_body(node.body):
                return
        self.run_block(node.orelse)

    def assign(self, target: ast.expr, value: Any) -> None:
        if callable(value):
            raise SandboxError("不能把函数保存为数据")
        if isinstance(target, ast.Name):
            self.names[target.id] = value
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value)
            if not isinstance(container, (dict, list)):
                raise SandboxError("只能给字典或列表的元素赋值")
            container[self.eval(target.slice)] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = list(value)
            if len(values) != len(target.elts):
                raise SandboxError("解包数量不匹配")
            for elt, item in zip(target.elts, values):
                self.assign(elt, item)
        else:
            raise SandboxError("不允许的赋值目标", type(target).__name__)

    def delete(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.names.pop(target.id, None)
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value)
            if not isinstance(container, (dict, list)):
                raise SandboxError("只能删除字典或列表的元素")
            del container[self.eval(target.slice)]
        else:
            raise SandboxError("不允许的删除目标", type(target).__name__)

    # -- expressions ----------------------------------------------------------
    def eval(self, node: ast.expr) -> Any:  # noqa: C901 - a dispatch table in disguise
        self._tick()
        method = getattr(self, "_e_" + type(node).__name__, None)
        if method is None:
            raise SandboxError("不允许的语法", type(node).__name__)
        return method(node)

    def _e_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _e_Name(self, node: ast.Name) -> Any:
        if node.id in self.names:
            return self.names[node.id]
        if node.id in self.functions:
            return self.functions[node.id]
        if node.id in SAFE_BUILTINS:
            return SAFE_BUILTINS[node.id]
        raise SandboxError("未定义的名称", node.id)

    def _e_List(self, node: ast.List) -> list:
        return self._cap([self.eval(e) for e in node.elts])

    def _e_Tuple(self, node: ast.Tuple) -> tuple:
        return self._cap(tuple(self.eval(e) for e in node.elts))

    def _e_Set(self, node: ast.Set) -> set:
        return self._cap({self.eval(e) for e in node.elts})

    def _e_Dict(self, node: ast.Dict) -> dict:
        if any(k is None for k in node.keys):
            raise SandboxError("不允许的语法", "**")
        return self._cap({self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values)})

    def _binop(self, op: ast.operator, left: Any, right: Any) -> Any:
        if isinstance(op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 1000:
            raise SandboxError("数值过大", "幂指数超过 1000")
        if isinstance(op, ast.Mult):
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SEQUENCE:
                    raise SandboxError("序列过长", f"超过 {MAX_SEQUENCE}")
        try:
            return self._cap(_BIN_OPS[type(op)](left, right))
        except SandboxError:
            raise
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
            raise SandboxError("运算错误", str(exc)) from None

    def _e_BinOp(self, node: ast.BinOp) -> Any:
        return self._binop(node.op, self.eval(node.left), self.eval(node.right))

    def _e_UnaryOp(self, node: ast.UnaryOp) -> Any:
        try:
            return _UNARY_OPS[type(node.op)](self.eval(node.operand))
        except TypeError as exc:
            raise SandboxError("运算错误", str(exc)) from None

    def _e_BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _e_Compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.eval(comparator)
            try:
                if not _CMP_OPS[type(op)](left, right):
                    return False
            except TypeError as exc:
                raise SandboxError("比较错误", str(exc)) from None
            left = right
        return True

    def _e_IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _e_Attribute(self, node: ast.Attribute) -> Any:
        value = self.eval(node.value)
        allowed = _ALLOWED_METHODS.get(type(value), frozenset())
        if self.may_mutate:
            allowed = allowed | _SCRIPT_ONLY_METHODS.get(type(value), frozenset())
        if node.attr not in allowed:
            raise SandboxError("不允许的属性访问", f"{type(value).__name__}.{node.attr}")
        if node.attr == "join":
            return _guarded_join(value)
        return getattr(value, node.attr)

    def _e_Call(self, node: ast.Call) -> Any:
        func = self.eval(node.func)
        if not callable(func):
            raise SandboxError("不可调用的对象")
        args = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise SandboxError("不允许的语法", "*args")
            args.append(self.eval(arg))
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise SandboxError("不允许的语法", "**kwargs")
            kwargs[kw.arg] = self.eval(kw.value)
        try:
            return self._cap(func(*args, **kwargs))
        except SandboxError:
            raise
        except Exception as exc:  # helpers and builtins raise the usual errors
            raise SandboxError("函数调用出错", f"{type(exc).__name__}: {exc}") from None

    def _e_Subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        key = self.eval(node.slice)
        try:
            return value[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise SandboxError("取值错误", repr(exc)) from None

    def _e_Slice(self, node: ast.Slice) -> slice:
        return slice(*(self.eval(p) if p is not None else None for p in (node.lower, node.upper, node.step)))

    def _e_JoinedStr(self, node: ast.JoinedStr) -> str:
        return self._cap("".join(str(self.eval(v)) for v in node.values))

    def _e_FormattedValue(self, node: ast.FormattedValue) -> str:
        value = self.eval(node.value)
        spec = "".join(v.value for v in node.format_spec.values) if node.format_spec else ""
        if node.conversion == ord("r"):
            value = repr(value)
        elif node.conversion == ord("s"):
            value = str(value)
        try:
            return format(value, spec)
        except (TypeError, ValueError) as exc:
            raise SandboxError("格式错误", str(exc)) from None

    # comprehensions run in a child scope so their loop names do not leak
    def _comprehension(self, node, emit: Callable[[], None]) -> None:
        saved = dict(self.names)

        def loop(index: int) -> None:
            if index == len(node.generators):
                emit()
                return
            gen = node.generators[index]
            for item in list(self.eval(gen.iter)):
                self.assign(gen.target, item)
                if all(self.eval(cond) for cond in gen.ifs):
                    loop(index + 1)
        try:
            loop(0)
        finally:
            self.names.clear()
            self.names.update(saved)

    def _e_ListComp(self, node: ast.ListComp) -> list:
        out: list = []

        def emit() -> None:
            out.append(self.eval(node.elt))
            self._cap(out)
        self._comprehension(node, emit)
        return out

    _e_GeneratorExp = _e_ListComp

    def _e_SetComp(self, node: ast.SetComp) -> set:
        out: set = set()
        self._comprehension(node, lambda: out.add(self.eval(node.elt)))
        return self._cap(out)

    def _e_DictComp(self, node: ast.DictComp) -> dict:
        out: dict = {}

        def emit() -> None:
            out[self.eval(node.key)] = self.eval(node.value)
        self._comprehension(node, emit)
        return self._cap(out)


def _as_load(target: ast.expr) -> ast.expr:
    """An AugAssign target re-read as a value."""
    if isinstance(target, (ast.Name, ast.Subscript)):
        return target
    raise SandboxError("不允许的赋值目标", type(target).__name__)


