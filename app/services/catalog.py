"""Matter catalogs (事项目录): the YAML file beside each BPMN.

A catalog names the service's matters, which department and task each belongs
to, their materials and their time limits (承诺时限 / 法定时限). It is validated on
deploy; every problem names the line of the file it is on.
"""
from __future__ import annotations

from typing import Any

import yaml

from .. import engine
from ..errors import InvalidInput
from .calendar import UNIT_NAMES, UNITS

_LINE = "__line__"
KINDS = ("promised", "immediate")  # 承诺件 / 即办件


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: dict | None, message: str) -> None:
        line = where.get(_LINE) if isinstance(where, dict) else None
        self.problems.append(f"第 {line} 行：{message}" if line else message)

    def limit(self, owner: dict, key: str, value: Any) -> None:
        if not isinstance(value, dict):
            self.fail(owner, f"{key} 必须写成 {{amount: 数量, unit: 单位}}")
            return
        amount, unit = value.get("amount"), value.get("unit")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= 3650:
            self.fail(value, f"{key}.amount 必须是 0 到 3650 的整数")
        if unit not in UNITS:
            self.fail(value, f"{key}.unit 必须是 {'、'.join(UNITS)} 之一")

    def limits(self, owner: dict) -> None:
        limits = owner.get("limits", {})
        if not isinstance(limits, dict):
            self.fail(owner, "limits 必须是映射")
            return
        for key in ("promised", "statutory", "extension_cap"):
            if key in limits:
                self.limit(limits, key, limits[key])
        unknown = set(limits) - {"promised", "statutory", "extension_cap", _LINE}
        if unknown:
            self.fail(limits, f"limits 中有未知的键：{', '.join(sorted(unknown))}")

    def material(self, material: Any) -> None:
        if not isinstance(material, dict):
            self.fail(None, "materials 的每一项必须是映射")
            return
        for key in ("code", "name"):
            if not isinstance(material.get(key), str) or not material.get(key):
                self.fail(material, f"材料缺少 {key}")
        if material.get("deficiency_allowed") and material.get("primary"):
            self.fail(material, f"材料“{material.get('name')}”是主要材料，不能容缺")
        types = material.get("file_types", [])
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            self.fail(material, "file_types 必须是扩展名列表")
        self.workdays(material, "supplement_workdays")

    def variants(self, variants: Any) -> None:
        """Variants by a form field (e.g. project type): own limits, and data handed to the diagram."""
        if not isinstance(variants, dict) or not isinstance(variants.get("field"), str) \
                or not isinstance(variants.get("values"), dict) or not variants["values"]:
            self.fail(variants if isinstance(variants, dict) else None, "variants 须包含 field（表单字段）和 values（各取值的配置）")
            return
        for value, spec in variants["values"].items():
            if value == _LINE:
                continue
            if not isinstance(spec, dict):
                self.fail(variants["values"], f"variants.values.{value} 必须是映射")
                continue
            self.limits(spec)
            data = spec.get("data", {})
            if not isinstance(data, dict):
                self.fail(spec, f"variants.values.{value}.data 必须是映射")
                continue
            stages = data.get("stage_workdays")
            promised = (spec.get("limits") or {}).get("promised") or {}
            if isinstance(stages, dict):
                amounts = [v for k, v in stages.items() if k != _LINE]
                if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in amounts):
                    self.fail(stages, f"{value} 的 stage_workdays 必须是正整数工作日")
                elif promised.get("unit") != "workday" or sum(amounts) != promised.get("amount"):
                    unit = UNIT_NAMES.get(promised.get("unit"), promised.get("unit"))
                    self.fail(stages, f"{value} 的各阶段时限之和（{sum(amounts)} 个工作日）必须等于承诺时限"
                                      f"（{promised.get('amount')} 个{unit}）")

    def workdays(self, owner: dict, key: str) -> None:
        value = owner.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365):
            self.fail(owner, f"{key} 必须是 1 到 365 的工作日数")

    def supervision(self, raw: dict) -> None:
        """电子监察: the yellow light's share of office time left, and when overdue work is escalated."""
        cfg = raw.get("supervision")
        if cfg is None:
            return
        if not isinstance(cfg, dict):
            self.fail(raw, "supervision 必须是映射")
            return
        ratio = cfg.get("warn_remaining_ratio")
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))
                                  or not 0 < ratio < 1):
            self.fail(cfg, "warn_remaining_ratio 必须是 0 到 1 之间的小数（剩余办理时间占比，如 0.2）")
        self.workdays(cfg, "escalate_after_workdays")

    def matter(self, matter: Any, tasks: set[str] | None, departments: set[str] | None,
               codes: set[str]) -> None:
        if not isinstance(matter, dict):
            self.fail(None, "matters 的每一项必须是映射")
            return
        for key in ("code", "name", "department"):
            if not isinstance(matter.get(key), str) or not matter.get(key):
                self.fail(matter, f"事项缺少 {key}")
        if matter.get("code") in codes:
            self.fail(matter, f"事项编码 {matter.get('code')} 重复")
        codes.add(matter.get("code"))
        if departments is not None and matter.get("department") not in departments:
            self.fail(matter, f"部门“{matter.get('department')}”不存在")
        if tasks is not None and matter.get("task") is not None and matter.get("task") not in tasks:
            self.fail(matter, f"流程中没有用户任务“{matter.get('task')}”")
        if matter.get("kind", "promised") not in KINDS:
            self.fail(matter, f"kind 必须是 {' 或 '.join(KINDS)}")
        self.limits(matter)
        when = matter.get("applies_when")
        if when is not None:
            problem = engine.condition_problem(when) if isinstance(when, str) else "必须是表达式文本"
            if problem:
                self.fail(matter, f"applies_when 无效：{problem}")
        shown = matter.get("fields", [])
        if not isinstance(shown, list) or not all(isinstance(f, str) for f in shown):
            self.fail(matter, "fields 必须是表单字段名的列表")
        materials = matter.get("materials", [])
        if not isinstance(materials, list):
            self.fail(matter, "materials 必须是列表")
            return
        for material in materials:  # a code may recur across matters: 一套材料, asked once
            self.material(material)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != _LINE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def parse(text: str, *, process_key: str | None = None, task_ids: set[str] | None = None,
          departments: set[str] | None = None) -> dict[str, Any]:
    """Parse and validate a catalog; raises InvalidInput listing every problem with its line."""
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行：" if mark else ""
        raise InvalidInput("事项目录不是有效的 YAML", [f"{where}{getattr(exc, 'problem', exc)}"]) from None
    check = _Checker()
    if not isinstance(raw, dict):
        raise InvalidInput("事项目录无效", ["顶层必须是映射"])
    if process_key is not None and raw.get("service") != process_key:
        check.fail(raw, f"service 必须与流程 id “{process_key}” 一致")
    if not isinstance(raw.get("name"), str):
        check.fail(raw, "缺少 name")
    check.limits(raw)
    check.workdays(raw, "post_check_workdays")
    check.supervision(raw)
    prefill = raw.get("prefill", {})
    if not isinstance(prefill, dict) or not all(
            isinstance(v, str) and "." in v for k, v in prefill.items() if k != _LINE):
        check.fail(raw, "prefill 必须是“表单字段: 证照类型.属性”的映射，如 company_name: business_licence.holder_name")
    decisions = raw.get("intake_requires_complete")
    if decisions is not None and (not isinstance(decisions, list) or not all(isinstance(d, str) for d in decisions)):
        check.fail(raw, "intake_requires_complete 必须是受理结论的列表")
    if task_ids is not None and raw.get("intake_task") is not None and raw.get("intake_task") not in task_ids:
        check.fail(raw, f"流程中没有用户任务“{raw.get('intake_task')}”（intake_task）")
    if "variants" in raw:
        check.variants(raw["variants"])
    matters = raw.get("matters", [])
    if not isinstance(matters, list):
        check.fail(raw, "matters 必须是列表")
        matters = []
    codes: set[str] = set()
    for matter in matters:
        check.matter(matter, task_ids, departments, codes)
    if check.problems:
        raise InvalidInput("事项目录校验未通过", check.problems)
    return _strip(raw)


def matter_for_task(catalog: dict[str, Any] | None, element_id: str) -> dict[str, Any] | None:
    for matter in (catalog or {}).get("matters", []):
        if matter.get("task") == element_id:
            return matter
    return None


def variant(catalog: dict[str, Any] | None, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The variant the case data picks (e.g. by project type), or None."""
    variants = (catalog or {}).get("variants")
    if not variants:
        return None
    return variants["values"].get(str((data or {}).get(variants["field"])))


def limits_for(catalog: dict[str, Any] | None, data: dict[str, Any] | None) -> dict[str, Any]:
    """The case's limits: the catalog's, with the chosen variant's on top."""
    limits = dict((catalog or {}).get("limits", {}))
    chosen = variant(catalog, data)
    if chosen:
        limits.update(chosen.get("limits", {}))
    return limits


def variant_data(catalog: dict[str, Any] | None, data: dict[str, Any] | None) -> dict[str, Any]:
    """What the chosen variant hands to the diagram (e.g. ``stage_workdays``)."""
    chosen = variant(catalog, data)
    return dict(chosen.get("data", {})) if chosen else {}
