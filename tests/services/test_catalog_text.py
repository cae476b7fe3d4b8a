"""The table editor's catalog is written into the YAML text: comments and layout stay, the data is exact."""
import pytest
import yaml

from app.services.catalog_text import merged_yaml, plain_yaml
from config import BASE_DIR

CATALOGS = sorted((BASE_DIR / "processes").glob("*.yaml"))


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.stem)
def test_unchanged_data_gives_back_the_text_as_written(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("#") > 0
    assert merged_yaml(text, yaml.safe_load(text)) == text


def test_changed_values_removed_moved_and_added_items_keep_the_other_comments():
    text = (BASE_DIR / "processes" / "business_startup.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["limits"]["promised"]["amount"] = 4
    register = data["matters"][0]
    del register["materials"][1]  # M002
    register["materials"].append({"code": "M099", "name": "补充说明", "required": False})
    seal = next(m for m in data["matters"] if m["code"] == "410600-PSB-001")
    data["matters"].remove(seal)
    data["matters"].append(seal)  # moved to the end, with its comments
    del data["post_check_workdays"]

    out = merged_yaml(text, data)

    assert yaml.safe_load(out) == data
    assert "法定时限（行政许可法第四十二条）" in out and "# 企业开办一件事" in out
    assert "告知承诺：出件后 20 个工作日内" not in out  # its key is gone, and its comment with it
    assert "公司章程" not in out and "M099" in out
    tail = out[out.index("code: \"410600-PSB-001\""):]
    assert "applies_when: \"need_seal or need_bank_account\"   # 申请人勾选了本事项" in tail
    assert "amount: 4, unit: workhour}" in out


def test_text_that_does_not_parse_or_is_not_a_mapping_is_written_afresh():
    data = {"service": "x", "name": "某事项", "matters": []}
    assert merged_yaml("service: [", data) == plain_yaml(data)
    assert merged_yaml("- a\n- b\n", data) == plain_yaml(data)
    assert merged_yaml(None, data) == plain_yaml(data)


def test_a_boolean_is_never_kept_as_an_equal_number():
    text = "service: x  # kept\nflag: 1\ncount: 1\n"
    out = merged_yaml(text, {"service": "x", "flag": True, "count": 1})
    assert yaml.safe_load(out) == {"service": "x", "flag": True, "count": 1}
    assert type(yaml.safe_load(out)["flag"]) is bool and "# kept" in out
