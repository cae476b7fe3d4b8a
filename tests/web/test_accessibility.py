"""Keyboard and screen-reader basics on the main pages, as the server renders them (with real data):
the page is zh-CN with one h1; every form control has a label (a <label for>, a wrapping <label>, or
aria-label / aria-labelledby); every button and link has a name; images have alt; nothing jumps the
tab order (tabindex > 0); a skip link leads to the main content."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from ..api.startup import case_of, complete, start, upload_all
from ..conftest import ADMIN_PASSWORD

UNLABELLED_TYPES = {"hidden"}
BUTTON_TYPES = {"submit", "button", "reset", "image"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Audit(HTMLParser):
    """Collects what the checks need in one pass over the page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.h1 = 0
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self.controls: list[dict] = []  # form controls: tag, attrs, inside a <label>
        self.named: list[dict] = []  # buttons and links: attrs and their text
        self.images: list[dict] = []
        self.tabindex: list[str] = []
        self.open_labels = 0
        self.stack: list[dict] = []  # open buttons / links collecting text

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if a.get("tabindex", "").lstrip("-").isdigit() and int(a["tabindex"]) > 0:
            self.tabindex.append(f"<{tag} {a}>")
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag == "img":
            self.images.append(a)
        if tag == "input" and a.get("type", "text") in BUTTON_TYPES:
            self.named.append({"tag": tag, "attrs": a, "text": a.get("value", "") or a.get("alt", "")})
        elif tag in ("input", "select", "textarea") and a.get("type", "text") not in UNLABELLED_TYPES:
            self.controls.append({"tag": tag, "attrs": a, "wrapped": self.open_labels > 0})
        if tag in ("button", "a") and (tag == "button" or "href" in a):
            self.stack.append({"tag": tag, "attrs": a, "text": ""})
        elif tag == "img" and self.stack:
            self.stack[-1]["text"] += a.get("alt", "")

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels = max(0, self.open_labels - 1)
        if tag in ("button", "a") and self.stack and self.stack[-1]["tag"] == tag:
            self.named.append(self.stack.pop())

    def handle_data(self, data):
        for item in self.stack:
            item["text"] += data

    def problems(self) -> list[str]:
        found = []
        if self.lang != "zh-CN":
            found.append(f'<html lang="{self.lang}">, not zh-CN')
        if self.h1 != 1:
            found.append(f"{self.h1} h1 elements, not one")
        for c in self.controls:
            a = c["attrs"]
            labelled = c["wrapped"] or a.get("aria-label", "").strip() or \
                (a.get("id") and a["id"] in self.label_for) or \
                (a.get("aria-labelledby") and all(i in self.ids for i in a["aria-labelledby"].split()))
            if not labelled:
                found.append(f"<{c['tag']} {a}> has no label")
        for n in self.named:
            a = n["attrs"]
            if not (n["text"].strip() or a.get("aria-label", "").strip() or a.get("title", "").strip()):
                found.append(f"<{n['tag']} {a}> has no text or aria-label")
        found += [f"<img {a}> has no alt" for a in self.images if "alt" not in a]
        found += [f"{t} breaks the tab order" for t in self.tabindex]
        return found


def audit(text: str) -> Audit:
    parser = Audit()
    parser.feed(text)
    parser.close()
    return parser


def test_the_audit_itself_finds_each_kind_of_problem():
    bad = audit('<html lang="en"><body><h1>a</h1><h1>b</h1><input name="x"><select id="s"></select>'
                '<button></button><a href="/x"></a><img src="/i.png"><input type="submit" value="">'
                '<div tabindex="3"></div></body></html>')
    problems = bad.problems()
    assert len(problems) == 9, problems
    good = audit('<html lang="zh-CN"><body><h1>标题</h1><label for="x">名称</label><input id="x">'
                 '<label>状态 <select name="s"></select></label><input aria-label="搜索" name="q">'
                 '<span id="l">备注</span><textarea aria-labelledby="l"></textarea><input type="hidden" name="t">'
                 '<button aria-label="关闭">×</button><button>保存</button><a href="/"><img src="/i.png" alt="首页"></a>'
                 '</body></html>')
    assert good.problems() == [] and len(good.controls) == 4 and len(good.named) == 3


@pytest.fixture
def case(api):
    """An accepted 企业开办 case: 设立登记 is ready at 市场监管局."""
    clerk = api.as_user("window_clerk")
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    assert complete(api, case_of(api, case_no), "task_intake").status_code == 200
    return case_of(api, case_no)


def _check(web, path: str, min_controls: int = 0, status: int = 200, resp=None) -> Audit:
    resp = resp if resp is not None else web.get(path)
    assert resp.status_code == status, (path, resp.status_code)
    page = audit(web.text(resp))
    assert page.problems() == [], (path, page.problems())
    assert len(page.controls) >= min_controls, (path, len(page.controls))
    assert 'class="skip" href="#main"' in web.text(resp), path
    return page


def test_the_main_pages_have_labels_names_alt_texts_one_h1_and_lang(api, case, browser_for):
    register = next(t for t in case["tasks"] if t["element_id"] == "task_register" and t["state"] == "ready")
    anonymous = browser_for(None)
    _check(anonymous, "/login", min_controls=2)
    _check(anonymous, "/portal/", min_controls=2)
    resp = anonymous.post("/portal/", {"case_no": case["case_no"], "query_code": case["query_code"]})
    assert resp.status_code == 302
    _check(anonymous, "/portal/case")

    clerk = browser_for("window_clerk")
    _check(clerk, "/desk/")
    _check(clerk, "/desk/new/business_startup", min_controls=3)
    _check(clerk, f"/cases/{case['case_no']}")
    _check(clerk, "/cases", min_controls=2)

    amr = browser_for("amr_approver")
    _check(amr, "/inbox/", min_controls=3)
    _check(amr, f"/tasks/{register['id']}", min_controls=1)
    _check(amr, "/follow-ups")

    manager = browser_for("manager")
    _check(manager, "/dashboard", min_controls=4)
    _check(manager, "/dashboard/cases?figure=status", min_controls=1)
    _check(manager, "/dashboard/weekly")
    admin = browser_for("admin", ADMIN_PASSWORD)
    _check(admin, "/processes")


def test_error_pages_and_the_rating_form_are_labelled_too(api, case, browser_for):
    from ..api.startup import run_back_office
    anonymous = browser_for(None)
    anonymous.get("/login")
    wrong = anonymous.post("/login", {"username": "manager", "password": "wrong"})
    page = _check(anonymous, "/login (wrong password)", min_controls=2, status=wrong.status_code, resp=wrong)
    assert wrong.status_code >= 400 and page.h1 == 1
    _check(browser_for("manager"), "/cases/410600000000000000", status=404)
    done, _ = run_back_office(api, case["case_no"])
    assert done["status"] == "completed"
    portal = browser_for(None)
    portal.get("/portal/")
    assert portal.post("/portal/", {"case_no": case["case_no"], "query_code": case["query_code"]}).status_code == 302
    page = _check(portal, "/portal/case", min_controls=5)  # the five levels of 好差评 and the comment
    assert any(c["attrs"].get("type") == "radio" for c in page.controls)
