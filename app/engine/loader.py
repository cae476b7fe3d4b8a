"""Parse and validate uploaded BPMN, safely, and build runnable specs.

Order of checks (each refuses the whole file, nothing is deployed):
1. size, then a hardened lxml parse (no DOCTYPE, no entities, no network,
   bounded element count and depth);
2. the BPMN XSD (SpiffWorkflow's validator);
3. SpiffWorkflow's own parse;
4. our rules: lanes name departments, user tasks sit in lanes, forms exist,
   every expression compiles in the sandbox.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from . import sandbox
from .errors import BpmnInvalid, ValidationIssue
from .scripts import helper_functions
from .types import ProcessModel, UserTaskDef

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiff": SPIFF_NS}
FORM_KEY = f"{{{CAMUNDA_NS}}}formKey"
CANDIDATE_GROUPS = f"{{{CAMUNDA_NS}}}candidateGroups"

MAX_BYTES = 2 * 1024 * 1024
MAX_ELEMENTS = 20_000
MAX_DEPTH = 60

_EXPRESSION_TAGS = ("conditionExpression", "timeDate", "timeDuration", "timeCycle",
                    "loopCardinality", "completionCondition")


@dataclass(frozen=True)
class ParsedProcess:
    """A runnable spec plus what we learned about it. Cached per file hash."""

    sha256: str
    model: ProcessModel
    spec: Any
    subprocess_specs: dict[str, Any]


def sha256_of(xml: bytes) -> str:
    return hashlib.sha256(xml).hexdigest()


def _safe_parse(xml: bytes, filename: str) -> etree._Element:
    if len(xml) > MAX_BYTES:
        raise BpmnInvalid(f"文件过大，上限为 {MAX_BYTES // (1024 * 1024)} MB", status=413)
    head = xml[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in xml.lower():
        raise BpmnInvalid("不接受包含 DOCTYPE 或实体声明的文件")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise BpmnInvalid(f"不是有效的 XML：第 {exc.lineno} 行") from None
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise BpmnInvalid("不接受包含 DOCTYPE 或实体声明的文件")
    count = 0
    for element in root.iter():
        count += 1
        if count > MAX_ELEMENTS:
            raise BpmnInvalid(f"元素过多，上限为 {MAX_ELEMENTS}", status=413)
    if _depth(root) > MAX_DEPTH:
        raise BpmnInvalid(f"嵌套过深，上限为 {MAX_DEPTH} 层")
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise BpmnInvalid("根元素必须是 bpmn:definitions")
    return root


def _depth(root: etree._Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in node)
    return deepest


def _element_at_line(root: etree._Element, line: int | None) -> str:
    if not line:
        return ""
    for element in root.iter():
        if element.sourceline == line and element.get("id"):
            return element.get("id")
    return ""


def _main_process(root: etree._Element) -> etree._Element:
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "false") == "true"] or processes
    called = {c.get("calledElement") for c in root.iterfind(".//bpmn:callActivity", NS)}
    mains = [p for p in executable if p.get("id") not in called]
    if not mains:
        raise BpmnInvalid("文件中没有可执行的流程（bpmn:process）")
    if len(mains) > 1:
        ids = ", ".join(p.get("id") for p in mains)
        raise BpmnInvalid(f"文件中有多个顶层可执行流程：{ids}；请每个文件只放一个")
    return mains[0]


def _lane_of(process: etree._Element) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for lane in process.iterfind(".//bpmn:lane", NS):
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lanes[(ref.text or "").strip()] = (lane.get("name") or "").strip()
    return lanes


def _user_tasks(process: etree._Element) -> list[UserTaskDef]:
    lane_of = _lane_of(process)
    return [UserTaskDef(element_id=t.get("id"), name=t.get("name") or t.get("id"), lane=lane_of.get(t.get("id")),
                        form_key=t.get(FORM_KEY), candidate=t.get(CANDIDATE_GROUPS), process_key=process.get("id"))
            for t in process.iterfind(".//bpmn:userTask", NS)]


def _called_processes(process: etree._Element, roots: list[etree._Element]) -> list[etree._Element]:
    """Processes reached through call activities (transitively), found in this file or the libraries."""
    by_id = {p.get("id"): p for root in roots for p in root.findall("bpmn:process", NS)}
    found, todo, seen = [], [process], {process.get("id")}
    while todo:
        for call in todo.pop().iterfind(".//bpmn:callActivity", NS):
            called = by_id.get(call.get("calledElement"))
            if called is not None and called.get("id") not in seen:
                seen.add(called.get("id"))
                found.append(called)
                todo.append(called)
    return found


def describe(root: etree._Element, libraries: Iterable[etree._Element] = ()) -> ProcessModel:
    """The main process, plus the user tasks and lanes of the processes it calls."""
    process = _main_process(root)
    start = process.find("bpmn:startEvent", NS)
    called = _called_processes(process, [root, *libraries])
    tasks = tuple(task for p in (process, *called) for task in _user_tasks(p))
    lanes = tuple(sorted({(l.get("name") or "").strip() for p in (process, *called)
                          for l in p.iterfind(".//bpmn:lane", NS)}))
    calls = tuple(sorted({c.get("calledElement") for c in root.iterfind(".//bpmn:callActivity", NS)}))
    return ProcessModel(
        process_key=process.get("id"),
        name=process.get("name") or process.get("id"),
        start_form_key=start.get(FORM_KEY) if start is not None else None,
        user_tasks=tasks, lanes=lanes, called_processes=calls,
        has_timers=any(next(r.iterfind(".//bpmn:timerEventDefinition", NS), None) is not None
                       for r in (root, *(p.getroottree().getroot() for p in called))),
    )


def connect_loops(spec: Any) -> None:
    """Let each multi-instance task (会签) hear its instances complete, as a restored spec does.

    SpiffWorkflow connects an instance's completion to its multi-instance task only when it
    creates an instance, or when it deserializes a spec. A fresh parse (a restarted worker, a
    migrated case) has neither, so instances created earlier would complete unheard.
    """
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, LoopTask):
            child = spec.task_specs.get(task_spec.task_spec)
            if child is not None and not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)


def candidate_expression(candidate: str | None) -> str | None:
    """``${expr}`` → ``expr``; a plain department name → None."""
    value = (candidate or "").strip()
    return value[2:-1].strip() if value.startswith("${") and value.endswith("}") else None


def _service_task_issues(root: etree._Element, is_operator: Callable[[str], bool]) -> list[ValidationIssue]:
    """Every service task names a known operator, and its parameters are sandbox expressions."""
    issues: list[ValidationIssue] = []
    for task in root.iterfind(".//bpmn:serviceTask", NS):
        operator = task.find("bpmn:extensionElements/spiff:serviceTaskOperator", NS)
        name = task.get("name") or task.get("id")
        if operator is None:
            issues.append(ValidationIssue(task.get("id"), f"服务任务“{name}”缺少 spiff:serviceTaskOperator"))
            continue
        if not is_operator(operator.get("id", "")):
            issues.append(ValidationIssue(task.get("id"), f"服务任务“{name}”的操作“{operator.get('id')}”不存在"))
        for param in operator.iterfind(".//spiff:parameter", NS):
            problem = _expression_problem(sandbox.compile_expression, param.get("value", ""))
            if problem:
                issues.append(ValidationIssue(task.get("id"), f"参数 {param.get('id')} 的表达式无效：{problem}"))
    return issues


_FLOW_NODES = ("task", "userTask", "serviceTask", "scriptTask", "receiveTask", "sendTask", "manualTask",
               "businessRuleTask", "callActivity", "subProcess", "startEvent", "intermediateCatchEvent",
               "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "inclusiveGateway",
               "parallelGateway", "eventBasedGateway")


def _dead_end_issues(process: etree._Element) -> list[ValidationIssue]:
    """A step with no way out would end its path silently (an implicit end): refuse it."""
    sources = {f.get("sourceRef") for f in process.iterfind("bpmn:sequenceFlow", NS)}
    issues = []
    for local in _FLOW_NODES:
        for node in process.iterfind(f"bpmn:{local}", NS):
            if node.get("id") not in sources:
                name = node.get("name") or node.get("id")
                issues.append(ValidationIssue(node.get("id"), f"“{name}”没有出口顺序流；流程只能在结束事件处结束"))
    return issues


def _rule_issues(root: etree._Element, model: ProcessModel,
                 is_department: Callable[[str], bool],
                 form_exists: Callable[[str], bool],
                 is_operator: Callable[[str], bool]) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    process = _main_process(root)
    if process.find("bpmn:startEvent", NS) is None:
        issues.append(ValidationIssue(process.get("id"), "流程缺少开始事件"))
    for lane in process.iterfind(".//bpmn:lane", NS):
        name = (lane.get("name") or "").strip()
        if not name or not is_department(name):
            issues.append(ValidationIssue(lane.get("id"), f"泳道“{name}”不是已登记的部门（名称或代码）"))
    seen: set[str] = set()
    for task in model.user_tasks:
        if task.element_id in seen:
            issues.append(ValidationIssue(task.element_id, f"用户任务 id “{task.element_id}”在所调用的流程中重复"))
        seen.add(task.element_id)
        if not task.lane:
            issues.append(ValidationIssue(task.element_id, f"用户任务“{task.name}”不在任何泳道中"))
        expression = candidate_expression(task.candidate)
        if expression is not None:
            problem = _expression_problem(sandbox.compile_expression, expression)
            if problem:
                issues.append(ValidationIssue(task.element_id, f"办理部门表达式无效：{problem}"))
        elif task.candidate and not is_department(task.candidate.strip()):
            issues.append(ValidationIssue(task.element_id, f"办理部门“{task.candidate}”不是已登记的部门"))
        if task.form_key and not form_exists(task.form_key):
            issues.append(ValidationIssue(task.element_id, f"表单“{task.form_key}”不存在"))
    if model.start_form_key and not form_exists(model.start_form_key):
        issues.append(ValidationIssue("startEvent", f"表单“{model.start_form_key}”不存在"))
    issues.extend(_service_task_issues(root, is_operator))
    issues.extend(_dead_end_issues(process))
    for element in root.iter():
        local = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if local in _EXPRESSION_TAGS and (element.text or "").strip():
            owner = element.getparent()
            while owner is not None and not owner.get("id"):
                owner = owner.getparent()
            problem = _expression_problem(sandbox.compile_expression, element.text)
            if problem:
                issues.append(ValidationIssue(owner.get("id") if owner is not None else "", f"表达式无效：{problem}"))
        if local == "script" and (element.text or "").strip():
            problem = _expression_problem(sandbox.compile_script, element.text)
            if problem:
                issues.append(ValidationIssue(element.getparent().get("id", ""), f"脚本无效：{problem}"))
    return issues


def _expression_problem(compile_fn, source: str) -> str | None:
    try:
        tree = compile_fn(source)
    except sandbox.SandboxError as exc:
        return str(exc)
    unknown = sandbox.unknown_calls(tree, helper_functions())
    return f"调用了不允许的函数 {', '.join(unknown)}" if unknown else None


def parse_process(xml: bytes, filename: str = "process.bpmn", *,
                  is_department: Callable[[str], bool] = lambda name: True,
                  form_exists: Callable[[str], bool] = lambda key: True,
                  is_operator: Callable[[str], bool] = lambda name: True,
                  libraries: Iterable[bytes] = ()) -> ParsedProcess:
    """Validate ``xml`` and build its spec; raises :class:`BpmnInvalid`.

    ``libraries`` are other deployed BPMN files whose processes call
    activities may refer to.
    """
    root = _safe_parse(xml, filename)
    try:
        VALIDATOR.validate(root, filename)
    except ValidationException as exc:
        element = exc.id or _element_at_line(root, exc.line_number)
        raise BpmnInvalid("BPMN 结构校验失败", [ValidationIssue(element, str(exc))]) from None
    library_roots = [_safe_parse(library, "library.bpmn") for library in libraries]
    model = describe(root, library_roots)
    issues = _rule_issues(root, model, is_department, form_exists, is_operator)
    if issues:
        raise BpmnInvalid("流程定义校验失败", issues)
    parser = SpiffBpmnParser()
    try:
        parser.add_bpmn_xml(root.getroottree(), filename)
        for library_root in library_roots:
            parser.add_bpmn_xml(library_root.getroottree(), "library.bpmn")
        spec = parser.get_spec(model.process_key)
        subprocess_specs = parser.get_subprocess_specs(model.process_key)
        for process_spec in (spec, *subprocess_specs.values()):
            connect_loops(process_spec)
    except ValidationException as exc:
        raise BpmnInvalid("流程定义解析失败", [ValidationIssue(exc.id or "", str(exc))]) from None
    except SpiffWorkflowException as exc:
        raise BpmnInvalid("流程定义解析失败", [ValidationIssue("", str(exc))]) from None
    return ParsedProcess(sha256=sha256_of(xml), model=model, spec=spec, subprocess_specs=subprocess_specs)
