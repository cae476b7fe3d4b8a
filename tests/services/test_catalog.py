"""The matter catalog validator: the intake keys, with the line of every problem."""
import pytest

from app.errors import InvalidInput
from app.services import catalog

from config import BASE_DIR

GOOD = (BASE_DIR / "processes" / "business_startup.yaml").read_text(encoding="utf-8")


def test_the_business_startup_catalog_is_valid_and_keeps_the_intake_keys():
    parsed = catalog.parse(GOOD, process_key="business_startup",
                           task_ids={"task_intake", "task_register", "task_seal", "task_bank", "task_tax",
                                     "task_social_insurance", "task_housing_fund", "task_acceptance_review",
                                     "task_post_check"})
    assert parsed["intake_requires_complete"] == ["accept", "deficiency"]
    m004 = next(m for matter in parsed["matters"] for m in matter["materials"] if m["code"] == "M004")
    assert m004["deficiency_allowed"] and m004["supplement_workdays"] == 5


@pytest.mark.parametrize("old,new,problem", [
    ("supplement_workdays: 5", "supplement_workdays: 0", "supplement_workdays"),
    ("post_check_workdays: 20", "post_check_workdays: many", "post_check_workdays"),
    ("intake_requires_complete: [accept, deficiency]", "intake_requires_complete: accept", "intake_requires_complete"),
    ("intake_task: task_intake", "intake_task: task_nowhere", "task_nowhere"),
    ("warn_remaining_ratio: 0.2", "warn_remaining_ratio: 1.5", "warn_remaining_ratio"),
    ("warn_remaining_ratio: 0.2", "warn_remaining_ratio: 二成", "warn_remaining_ratio"),
    ("escalate_after_workdays: 1", "escalate_after_workdays: -1", "escalate_after_workdays"),
])
def test_a_broken_intake_key_is_refused_with_its_line(old, new, problem):
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if new in row)
    with pytest.raises(InvalidInput) as caught:
        catalog.parse(text, process_key="business_startup", task_ids={"task_intake", "task_register"})
    found = [p for p in caught.value.errors if problem in p]
    assert found, caught.value.errors
    # the problem names the line of the mapping that holds the key
    assert any(f"第 {n} 行" in found[0] for n in range(max(1, line - 12), line + 1))


def test_applies_when_must_be_a_sandbox_condition():
    text = GOOD.replace('applies_when: "need_bank_account"', 'applies_when: "__import__(\'os\')"', 1)
    with pytest.raises(InvalidInput) as caught:
        catalog.parse(text, process_key="business_startup")
    assert any("applies_when" in p for p in caught.value.errors)


CONSTRUCTION = (BASE_DIR / "processes" / "construction_project.yaml").read_text(encoding="utf-8")


def test_stage_limits_must_add_up_to_the_type_total():
    parsed = catalog.parse(CONSTRUCTION, process_key="construction_project")
    assert catalog.limits_for(parsed, {"project_type": "low_risk"})["promised"] == {"amount": 15, "unit": "workday"}
    assert catalog.limits_for(parsed, {"project_type": "unknown"})["promised"]["amount"] == 60  # the default
    assert catalog.variant_data(parsed, {"project_type": "industrial"})["stage_workdays"]["stage_works"] == 17
    broken = CONSTRUCTION.replace("stage_planning: 3, stage_works: 5", "stage_planning: 3, stage_works: 6", 1)
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if "stage_works: 6" in row)
    with pytest.raises(InvalidInput) as caught:
        catalog.parse(broken, process_key="construction_project")
    assert caught.value.errors == [f"第 {line} 行：low_risk 的各阶段时限之和（16 个工作日）必须等于承诺时限（15 个工作日）"]
