"""The analyst's list of services: every version with when and by whom it was deployed, read in a fixed number
of statements (the deployers' names come in one query, not one per version)."""
from __future__ import annotations

import html
import io
import re

from app.extensions import db

from ..api.helpers import deploy
from ..conftest import ADMIN_PASSWORD
from ..services.test_migration import V1, V2
from .sql_count import counting

SYSTEM = "系统（命令行或初始化）"




def _badges(text: str, key: str) -> dict[str, str]:
    row = re.search(r"<tr>(?:(?!</tr>).)*<code>" + key + r"</code>(?:(?!</tr>).)*</tr>", text, re.S)
    assert row, key
    found = re.findall(r'<span class="badge" data-version="(\d+)">([^<]*)</span>', row.group(0))
    return {version: html.unescape(label) for version, label in found}


def test_each_version_shows_who_deployed_it(api, browser_for):
    web = browser_for("analyst")
    web.get("/processes")  # warm the caches before counting
    with counting() as before:
        text = web.text(web.get("/processes"))
    assert SYSTEM in _badges(text, "business_startup")["1"]  # the bundled services came from the seed

    assert deploy(api, V1).status_code == 201  # as 流程分析员
    admin = api.as_user("admin", ADMIN_PASSWORD)
    resp = admin.post("/api/v1/processes", data={"file": (io.BytesIO(V2.encode()), "p.bpmn")},
                      content_type="multipart/form-data")
    assert resp.status_code == 201, resp.body
    web.get("/processes")
    with counting() as after:
        resp = web.get("/processes")
    text = web.text(resp)
    assert resp.status_code == 200
    badges = _badges(text, "migration_demo")
    assert set(badges) == {"1", "2"}
    assert "流程分析员" in badges["1"] and "系统管理员" not in badges["1"]
    assert "系统管理员" in badges["2"] and "流程分析员" not in badges["2"]
    assert "部署人" in text
    # one more service with two versions by two deployers: its versions and the names, one statement each
    assert len(after) == len(before) + 2, after
    assert len([s for s in after if "FROM users" in s and "users.name" in s and " IN (" in s]) == 1
