"""The flask CLI: deploy a file or folder, create a user, list cases."""
from .helpers import APPLICANT, DEMO_XML


def test_deploy_file_and_folder_create_user_and_list_cases(app, api, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "demo.bpmn"
    path.write_text(DEMO_XML, encoding="utf-8")
    result = runner.invoke(args=["deploy", str(path)])
    assert result.exit_code == 0 and "parallel_demo v1" in result.output

    broken = tmp_path / "broken" / "x.bpmn"
    broken.parent.mkdir()
    broken.write_text(DEMO_XML.replace('name="税务局"', 'name="无此部门"'), encoding="utf-8")
    result = runner.invoke(args=["deploy", str(broken.parent)])
    assert result.exit_code != 0 and "lane_tax" in result.output

    result = runner.invoke(args=["create-user", "li4", "--password", "Secret#123", "--name", "李四",
                                 "--department", "tax", "--role", "approver"])
    assert result.exit_code == 0, result.output
    assert api.as_user("li4", "Secret#123").get("/api/v1/tasks").status_code == 200
    result = runner.invoke(args=["create-user", "li4", "--password", "Secret#123", "--role", "approver",
                                 "--department", "tax"])
    assert result.exit_code != 0 and "已存在" in result.output

    clerk = api.as_user("window_clerk")
    case_no = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body["case_no"]
    result = runner.invoke(args=["list-cases"])
    assert result.exit_code == 0 and case_no in result.output and "running" in result.output


def test_backup_and_restore_then_the_case_continues(app, api, tmp_path, database_url):
    import pytest
    from .helpers import ready
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL backups use pg_dump / pg_restore (see README)")
    from .helpers import deploy
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    runner = app.test_cli_runner()
    backup = tmp_path / "backup.db"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    from app.extensions import db
    db.session.remove()
    result = runner.invoke(args=["restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    clerk = api.as_user("window_clerk")
    restored = clerk.get(f"/api/v1/cases/{case['case_no']}").body
    intake = ready(restored, "task_intake")[0]  # back to before the completion
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    assert {t["element_id"] for t in ready(clerk.get(f"/api/v1/cases/{case['case_no']}").body)} == {
        "task_a", "task_b", "task_c"}


def test_calendar_import_command_changes_working_days(app, api):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["calendar", "import", "2027", "--holidays", "2027-02-08..2027-02-12",
                                 "--workdays", "2027-02-07", "--source", "示例通知"])
    assert result.exit_code == 0, result.output
    user = api.as_user("tax_approver")
    assert user.get("/api/v1/calendar/add-workdays?start=2027-02-04&days=2").body == {"date": "2027-02-07",
                                                                                      "estimated": False}
    bad = runner.invoke(args=["calendar", "import", "2027", "--holidays", "2027-13-01"])
    assert bad.exit_code != 0 and "2027-13-01" in bad.output
