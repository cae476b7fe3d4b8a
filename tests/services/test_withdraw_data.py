"""What 撤回 puts back into the case's data, from the completion's audit event."""
from types import SimpleNamespace

from app.services.withdraw import _data_before


def completion(before_data: dict | None, submitted: dict):
    before = {"state": "ready"} if before_data is None else {"state": "ready", "case_data": before_data}
    return SimpleNamespace(before=before, after={"state": "completed", "data": submitted})


def test_overwritten_fields_come_back_and_added_ones_go():
    event = completion({"opinion": "初审"}, {"opinion": "同意", "fee": 120})
    assert _data_before({"company": "甲", "opinion": "同意", "fee": 120}, event) == {"company": "甲", "opinion": "初审"}


def test_a_field_another_branch_has_set_since_keeps_its_value():
    event = completion({"opinion": "初审"}, {"opinion": "同意", "fee": 120})
    now = {"opinion": "公安意见", "fee": 120}  # 公安局 wrote opinion after this completion
    assert _data_before(now, event) == {"opinion": "公安意见"}


def test_a_completion_recorded_without_the_overwritten_values_is_left_alone():
    assert _data_before({"opinion": "同意"}, completion(None, {"opinion": "同意"})) is None
    assert _data_before({"opinion": "同意"}, None) is None
