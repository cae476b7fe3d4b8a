"""A server killed in the middle of a case loses nothing: the case continues from the database."""
from ..conftest import ApiClient, LiveServer
from .helpers import APPLICANT, DEMO_XML, WORKER, deploy, ready


def test_kill_and_restart_mid_case(database_url, tmp_path):
    server = LiveServer(database_url, tmp_path).start()
    api = ApiClient(base_url=server.url)
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    case_no = case["case_no"]
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    task_a = ready(clerk.get(f"/api/v1/cases/{case_no}").body, "task_a")[0]
    amr = api.as_user("amr_approver")
    assert amr.post(f"/api/v1/tasks/{task_a['id']}/complete", json={"data": {"approved_a": True}}).status_code == 200
    token = clerk.token
    server.kill()  # SIGKILL: no shutdown hooks run

    server = LiveServer(database_url, tmp_path).start()
    try:
        api = ApiClient(base_url=server.url)
        clerk.base_url = server.url
        assert clerk.token == token and clerk.get("/api/v1/tasks").status_code == 200  # token survived too
        case = clerk.get(f"/api/v1/cases/{case_no}").body
        assert case["status"] == "running"
        assert {t["element_id"]: t["state"] for t in case["tasks"]} == {
            "task_intake": "completed", "task_a": "completed", "task_b": "ready", "task_c": "ready"}
        for element in ("task_b", "task_c"):
            task = ready(clerk.get(f"/api/v1/cases/{case_no}").body, element)[0]
            worker = api.as_user(WORKER[task["department"]])
            assert worker.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
        issue = ready(clerk.get(f"/api/v1/cases/{case_no}").body, "task_issue")[0]
        assert clerk.post(f"/api/v1/tasks/{issue['id']}/complete", json={"data": {}}).status_code == 200
        final = clerk.get(f"/api/v1/cases/{case_no}").body
        assert final["status"] == "completed" and final["data"]["approved_a"] is True
    finally:
        server.stop()
