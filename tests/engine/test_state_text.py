"""The stored workflow state text: written by orjson, readable by both JSON libraries, strict as before."""
import json
from datetime import datetime, timezone

import pytest

from app.engine import serializer


def test_a_state_is_compact_json_that_the_standard_library_reads_back_the_same():
    state = {"data": {"企业名称": "测试", "n": 12, "x": 0.1, "ok": True, "none": None, "l": [1, "二"]}}
    text = serializer.to_text(state)
    assert json.loads(text) == state
    assert text == json.dumps(state, ensure_ascii=False, separators=(",", ":"))


def test_what_orjson_refuses_is_written_by_the_standard_library_and_read_back():
    state = {"data": {"big": 2 ** 70}, 3: "int key"}
    text = serializer.to_text(state)
    assert serializer._parse(text) == {"data": {"big": 2 ** 70}, "3": "int key"}


def test_a_value_that_is_not_json_still_fails_instead_of_being_stored_as_text():
    with pytest.raises(TypeError):
        serializer.to_text({"data": {"when": datetime(2026, 1, 1, tzinfo=timezone.utc)}})
