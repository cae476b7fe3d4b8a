"""The processes the benchmarks run, and plausible data for their forms.

The main process is the 企业开办 service ``processes/business_startup.bpmn`` when
it exists, otherwise the six-way fan-out from ``tests/bpmn_factory``. The loop
and timer processes are built here.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lxml import etree

from .common import ROOT, code_root

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NEED_FLAGS = ("need_seal", "need_bank_account", "need_tax_ukey", "need_social_insurance",
              "need_housing_fund")
HELPERS = {"workdays", "hours", "days"}
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs_bench" '
        'targetNamespace="http://binglian.bench">')
APPLICANT = {"name": "张三", "id_number": "410602199001011234", "phone": "13800000000"}


@dataclass
class BenchProcess:
    label: str
    source: str
    key: str
    xml: bytes
    deployed_by_seed: bool                 # the demo seed deploys it from processes/
    start_data: dict = field(default_factory=dict)
    task_data: dict[str, dict] = field(default_factory=dict)   # element id -> data
    libraries: list[bytes] = field(default_factory=list)       # other files, for call activities
    user_tasks: int = 0
    lanes: tuple[str, ...] = ()


# -- form data ---------------------------------------------------------------

_TEXT_CANDIDATES = ("测试企业有限公司", "张三", "13800000000", "410602199001011234",
                    "91410600MA44ABCD1X", "410600", "2026-01-05", "1", "benchmark", "A1", "同意")
_YES = ("yes", "approve", "approved", "agree", "pass", "passed", "true", "ok", "同意", "通过", "是", "准予")


def _form_fields(schema: dict) -> list[dict]:
    out, stack = [], list(schema.get("components", []))
    while stack:
        comp = stack.pop(0)
        if comp.get("key") and comp.get("type") in {"textfield", "textarea", "number", "checkbox", "select",
                                                     "radio", "datetime", "checklist"}:
            out.append(comp)
        stack.extend(comp.get("components", []))
    return out


def _choice(values: list[dict]):
    for v in values:
        if str(v.get("value", "")).lower() in _YES or str(v.get("label", "")) in _YES:
            return v["value"]
    return values[0]["value"] if values else None


def _text(rules: dict) -> str:
    pattern, lo, hi = rules.get("pattern"), rules.get("minLength", 0), rules.get("maxLength", 10_000)
    for cand in _TEXT_CANDIDATES:
        if lo <= len(cand) <= hi and (not pattern or re.fullmatch(pattern, cand)):
            return cand
    return "x" * max(lo, 1)


def fill_form(schema: dict | None) -> dict:
    """Values that a careful clerk would type; chosen to pass the server's validation."""
    if not schema:
        return {}
    data = {}
    for comp in _form_fields(schema):
        kind, rules = comp["type"], comp.get("validate") or {}
        if kind == "checkbox":
            data[comp["key"]] = True
        elif kind == "number":
            value = rules.get("min", 1)
            data[comp["key"]] = min(value, rules["max"]) if "max" in rules else value
        elif kind in {"select", "radio"}:
            data[comp["key"]] = _choice(comp.get("values", []))
        elif kind == "checklist":
            data[comp["key"]] = []  # nothing ticked: e.g. no material missing (容缺) at intake
        elif kind == "datetime":
            data[comp["key"]] = date.today().isoformat()
        else:
            data[comp["key"]] = _text(rules)
    return data


def load_forms(folder: Path) -> dict[str, dict]:
    forms = {}
    for path in sorted(folder.glob("*.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(schema, dict) and isinstance(schema.get("id"), str):
            forms[schema["id"]] = schema
    return forms


def condition_names(xml: bytes) -> set[str]:
    """Data names read by gateway conditions (so the start data can set them)."""
    root = etree.fromstring(xml)
    names: set[str] = set()
    for node in root.iter(f"{{{BPMN_NS}}}conditionExpression"):
        try:
            tree = ast.parse((node.text or "").strip(), mode="eval")
        except SyntaxError:
            continue
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called - HELPERS
    return names - {"True", "False", "None"}


# -- the processes -------------------------------------------------------------

def _describe(xml: bytes, libraries: list[bytes]):
    from app import engine
    return engine.parse_process(xml, libraries=libraries).model


def choose_process(processes_dir: Path | None = None, forms_dir: Path | None = None) -> BenchProcess:
    """企业开办 if its BPMN exists, else the six-way fan-out (default folders: the code under test)."""
    seeded_dir = code_root() / "processes"
    processes_dir = processes_dir or seeded_dir
    forms_dir = forms_dir or code_root() / "forms"
    path = processes_dir / "business_startup.bpmn"
    if path.exists():
        xml = path.read_bytes()
        libraries = [p.read_bytes() for p in sorted(processes_dir.glob("*.bpmn"))
                     if p != path] if b"callActivity" in xml else []
        model = _describe(xml, libraries)
        forms = load_forms(forms_dir)
        start = fill_form(forms.get(model.start_form_key)) if model.start_form_key else {}
        if not model.start_form_key:
            start.update({name: True for name in sorted(condition_names(xml) | set(NEED_FLAGS))})
        for flag in NEED_FLAGS:
            if flag in start:
                start[flag] = True
        tasks = {t.element_id: fill_form(forms.get(t.form_key)) if t.form_key else {} for t in model.user_tasks}
        return BenchProcess(label=f"企业开办 {model.name} ({path.name})", source=_shown(path),
                            key=model.process_key, xml=xml,
                            deployed_by_seed=processes_dir == seeded_dir, start_data=start,
                            task_data=tasks, libraries=libraries, user_tasks=len(model.user_tasks),
                            lanes=tuple(model.lanes))
    return six_way()


def _shown(path: Path) -> str:
    for base in (code_root(), ROOT):
        try:
            return str(path.relative_to(base))
        except ValueError:
            continue
    return str(path)


def six_way() -> BenchProcess:
    from tests.bpmn_factory import SIX_DEPARTMENTS, fan_out
    xml = fan_out("six_way", SIX_DEPARTMENTS).encode()
    return BenchProcess(label="six-way fan-out (tests/bpmn_factory, 8 user tasks)",
                        source="tests/bpmn_factory.fan_out('six_way', SIX_DEPARTMENTS)",
                        key="six_way", xml=xml, deployed_by_seed=False, user_tasks=8,
                        lanes=("综合窗口", *SIX_DEPARTMENTS))


def loop_xml(process_id: str = "bench_loop") -> bytes:
    """start -> work -> gateway: ``again`` loops back to work, default ends."""
    body = (f'<bpmn:process id="{process_id}" name="循环" isExecutable="true">'
            '<bpmn:laneSet id="ls"><bpmn:lane id="lane_w" name="综合窗口">'
            + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in ("start", "work", "gw", "end"))
            + '</bpmn:lane></bpmn:laneSet>'
            '<bpmn:startEvent id="start"/><bpmn:userTask id="work" name="循环办理"/>'
            '<bpmn:exclusiveGateway id="gw" default="to_end"/><bpmn:endEvent id="end"/>'
            '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="work"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="work" targetRef="gw"/>'
            '<bpmn:sequenceFlow id="back" sourceRef="gw" targetRef="work">'
            '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">again</bpmn:conditionExpression>'
            '</bpmn:sequenceFlow>'
            '<bpmn:sequenceFlow id="to_end" sourceRef="gw" targetRef="end"/></bpmn:process>')
    return (HEAD + body + "</bpmn:definitions>").encode()


def timer_xml(process_id: str = "bench_timer", lane: str = "综合窗口") -> bytes:
    """task_a -> intermediate timer (timeDate = the case's ``fire_at``, an ISO string) -> task_b."""
    nodes = ("start", "task_a", "wait", "task_b", "end")
    body = (f'<bpmn:process id="{process_id}" name="定时器基准" isExecutable="true">'
            f'<bpmn:laneSet id="ls"><bpmn:lane id="lane_w" name="{lane}">'
            + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
            + '</bpmn:lane></bpmn:laneSet>'
            '<bpmn:startEvent id="start"/><bpmn:userTask id="task_a" name="受理"/>'
            '<bpmn:intermediateCatchEvent id="wait" name="定时"><bpmn:timerEventDefinition id="td">'
            '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">fire_at</bpmn:timeDate>'
            '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            '<bpmn:userTask id="task_b" name="到时办理"/><bpmn:endEvent id="end"/>'
            + "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                      for i, (a, b) in enumerate(zip(nodes, nodes[1:])))
            + '</bpmn:process>')
    return (HEAD + body + "</bpmn:definitions>").encode()
