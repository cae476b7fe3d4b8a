"""The window's rating form on the case page (窗口评价): after completion, the clerk enters the applicant's
choice; CSRF, validation that keeps what was typed, one rating per case, and a bad one opens a follow-up."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, FollowUp, Rating

from ..api.helpers import APPLICANT, DEMO_XML, deploy, ready


def completed_case(api) -> str:
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case_no = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body["case_no"]
    for element, username in (("task_intake", "window_clerk"), ("task_a", "amr_approver"),
                              ("task_b", "tax_approver"), ("task_c", "police_approver"), ("task_issue", "window_clerk")):
        task = ready(clerk.get(f"/api/v1/cases/{case_no}").body, element)[0]
        data = {"approved_a": True} if element == "task_a" else {}
        assert api.as_user(username).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}).status_code == 200
    return case_no


def ratings_of(case_no):
    db.session.rollback()
    case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
    return list(db.session.execute(select(Rating).where(Rating.case_id == case.id)).scalars()), case.audit_head


def test_the_window_enters_the_applicants_rating_once(api, browser_for):
    case_no = completed_case(api)
    web = browser_for("window_clerk")
    page = web.text(web.get(f"/cases/{case_no}"))
    assert "录入窗口评价" in page and 'action="/cases/%s/rating"' % case_no in page
    before = ratings_of(case_no)
    assert web.post(f"/cases/{case_no}/rating", {"level": "5"}, csrf=False).status_code == 400
    resp = web.post(f"/cases/{case_no}/rating", {"level": "", "comment": "窗口服务热情"})
    assert resp.status_code == 422
    text = web.text(resp)
    assert "请选择评价等级" in text and "窗口服务热情" in text  # what was typed is kept
    resp = web.post(f"/cases/{case_no}/rating", {"level": "9"})
    assert resp.status_code == 422
    assert ratings_of(case_no) == before
    # an approver may read the case but not enter ratings
    approver = browser_for("tax_approver")
    approver.get(f"/cases/{case_no}")
    assert approver.post(f"/cases/{case_no}/rating", {"level": "5"}).status_code == 403
    assert ratings_of(case_no) == before

    resp = web.post(f"/cases/{case_no}/rating", {"level": "2", "comment": "等候时间较长"})
    assert resp.status_code == 302
    rows, _ = ratings_of(case_no)
    assert [(r.level, r.channel, r.comment) for r in rows] == [(2, "window", "等候时间较长")]
    assert db.session.execute(select(func.count()).select_from(FollowUp)
                              .where(FollowUp.rating_id == rows[0].id)).scalar_one() == 1  # 不满意: 整改
    page = web.text(web.get(f"/cases/{case_no}"))
    assert "申请人评价：<strong>不满意</strong>" in page and "窗口评价" in page and "录入窗口评价" not in page
    after = ratings_of(case_no)
    resp = web.post(f"/cases/{case_no}/rating", {"level": "5"})
    assert resp.status_code == 409 and "该办件已评价" in web.text(resp)
    again = ratings_of(case_no)
    assert [(r.id, r.level) for r in again[0]] == [(r.id, r.level) for r in after[0]] and again[1] == after[1]


def test_no_rating_form_before_completion(api, browser_for):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case_no = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body["case_no"]
    web = browser_for("window_clerk")
    assert "录入窗口评价" not in web.text(web.get(f"/cases/{case_no}"))
    resp = web.post(f"/cases/{case_no}/rating", {"level": "5"})
    assert resp.status_code == 409 and "办结后才能评价" in web.text(resp)
