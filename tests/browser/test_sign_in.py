"""Each role signs in through the real server in Chromium and lands on its home page (screenshots saved)."""
import pytest


@pytest.mark.parametrize("username,home,heading", [
    ("window_clerk", "/desk/", "综合窗口"), ("tax_approver", "/inbox/", "待办"), ("manager", "/cases", "办件"),
    ("analyst", "/processes", "流程"),
])
def test_each_role_signs_in_to_its_home_page(tab, username, home, heading):
    session = tab()
    page = session.sign_in(username)
    assert page.url.endswith(home)
    assert heading in page.inner_text("h1")
    session.shot(f"home-{username}")
    page.click("text=退出")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/login")


def test_a_wrong_password_stays_on_the_login_page_with_a_chinese_message(tab):
    session = tab()
    session.open("/login")
    session.page.fill("#username", "window_clerk")
    session.page.fill("#password", "not-the-password")
    session.page.click("button[type=submit]")
    assert "用户名或密码错误" in session.page.inner_text("main")
    session.problems.clear()  # the 401 reply itself is logged by Chromium as a failed resource load
