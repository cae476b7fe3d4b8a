"""The calendar page: a year's working days, the estimated flag, and importing the State Council notice."""
from ..conftest import ADMIN_PASSWORD


def test_staff_see_the_year_with_holidays_and_make_up_days(browser_for):
    web = browser_for("tax_approver")
    page = web.text(web.get("/calendar/?year=2025"))
    assert 'title="2025-10-01 休息日"' in page and 'title="2025-09-28 工作日"' in page  # 国庆 and its make-up day
    assert "已公布或已导入" in page and "导入 2025 年放假安排" not in page  # only the admin imports


def test_the_admin_imports_2027_and_it_is_no_longer_estimated(browser_for):
    web = browser_for("admin", ADMIN_PASSWORD)
    page = web.text(web.get("/calendar/?year=2027"))
    assert "尚未导入" in page and 'title="2027-02-14 休息日"' in page
    resp = web.post("/calendar/?year=2027", {"holidays": "2027-02-06..2027-02-12\n2027-10-01..2027-10-07",
                                             "workdays": "2027-02-14", "source": "国办发明电〔2026〕X号"})
    assert resp.status_code == 302
    page = web.text(web.get("/calendar/?year=2027"))
    assert "已公布或已导入" in page and 'title="2027-02-14 工作日"' in page and 'title="2027-02-08 休息日"' in page


def test_a_bad_date_is_refused_in_chinese_keeping_the_text_and_changing_nothing(browser_for):
    web = browser_for("admin", ADMIN_PASSWORD)
    web.get("/calendar/?year=2027")
    resp = web.post("/calendar/?year=2027", {"holidays": "2027-02-06..2027-02-12, 2027-13-01", "workdays": ""})
    page = web.text(resp)
    assert resp.status_code == 422 and "无效日期：2027-13-01" in page and "2027-02-06..2027-02-12, 2027-13-01" in page
    resp = web.post("/calendar/?year=2027", {"holidays": "2028-01-01", "workdays": ""})
    assert resp.status_code == 422 and "不属于 2027 年" in web.text(resp)
    assert "尚未导入" in web.text(web.get("/calendar/?year=2027"))


def test_only_the_admin_may_import(browser_for):
    web = browser_for("manager")
    web.get("/calendar/?year=2027")
    assert web.post("/calendar/?year=2027", {"holidays": "2027-02-06"}).status_code == 403
