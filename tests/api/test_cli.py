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
