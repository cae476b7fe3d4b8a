"""The calendar endpoints, including the contract's add-workdays and the yearly import."""


def test_add_workdays_contract(api):
    user = api.as_user("tax_approver")
    resp = user.get("/api/v1/calendar/add-workdays?start=2025-09-26&days=5")
    assert resp.status_code == 200 and resp.body["date"] == "2025-10-10" and resp.body["estimated"] is False
    assert user.get("/api/v1/calendar/add-workdays?start=2025-09-26&days=20").body["date"] == "2025-10-30"
    assert api.get("/api/v1/calendar/add-workdays?start=2025-09-26&days=5").status_code == 401
    bad = user.get("/api/v1/calendar/add-workdays?start=2025-13-01&days=5")
    assert bad.status_code == 422 and "start" in str(bad.body)


def test_import_of_a_years_notice_changes_results_and_clears_the_estimate_flag(api):
    admin = api.as_user("admin", "admin-test-pw")
    user = api.as_user("tax_approver")
    before = user.get("/api/v1/calendar/add-workdays?start=2027-02-04&days=1").body
    assert before == {"date": "2027-02-11", "estimated": True}
    notice = {"holidays": [f"2027-02-{d:02d}" for d in range(8, 13)], "workdays": ["2027-02-07"],
              "source": "国办发明电〔2026〕示例"}
    assert user.request("PUT", "/api/v1/calendar/years/2027", json=notice).status_code == 403
    resp = admin.request("PUT", "/api/v1/calendar/years/2027", json=notice)
    assert resp.status_code == 200 and resp.body["estimated"] is False
    after = user.get("/api/v1/calendar/add-workdays?start=2027-02-04&days=1").body
    assert after == {"date": "2027-02-05", "estimated": False}
    wrong = admin.request("PUT", "/api/v1/calendar/years/2027", json={"holidays": ["2026-01-01"], "workdays": []})
    assert wrong.status_code == 422 and "2026-01-01" in str(wrong.body)
    # the bad import changed nothing
    assert user.get("/api/v1/calendar/add-workdays?start=2027-02-04&days=1").body["date"] == "2027-02-05"


def test_deadline_in_working_hours(api):
    user = api.as_user("tax_approver")
    resp = user.get("/api/v1/calendar/deadline?start=2025-09-26T15:00:00%2B08:00&amount=3&unit=workhour")
    assert resp.status_code == 200 and resp.body["deadline"] == "2025-09-28T10:00:00+08:00"
