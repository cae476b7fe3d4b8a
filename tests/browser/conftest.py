"""Browser tests: Playwright driving Debian's chromium (never a downloaded browser)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts this closed network refuses.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def browser(chromium):
    """One context (cookies, storage) for tests that need no sign-in."""
    context = chromium.new_context(viewport={"width": 2400, "height": 1400})
    yield context
    context.close()


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """`python run.py` on a fresh SQLite file with the demo data, as `make run` starts it."""
    from ..conftest import DEMO_PASSWORD, LiveServer
    folder = tmp_path_factory.mktemp("browser")
    server = LiveServer(f"sqlite:///{folder / 'demo.db'}", folder,
                        {"APP_DEMO": "1", "APP_DEMO_PASSWORD": DEMO_PASSWORD, "APP_SCHEDULER": "0",
                         "APP_WORKERS": "auto"}).start()
    yield server
    server.stop()


class Session:
    """One browser tab for one user, failing the test on any console error or page error."""

    def __init__(self, chromium, base_url: str):
        self.context = chromium.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
        self.page = self.context.new_page()  # its own cookies: one user per tab
        self.base_url = base_url
        self.problems: list[str] = []
        self.page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def open(self, path: str):
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def sign_in(self, username: str, password: str | None = None):
        from ..conftest import DEMO_PASSWORD
        self.open("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", password or DEMO_PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")
        return self.page

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self):
        self.context.close()
        assert self.problems == [], self.problems


@pytest.fixture
def tab(chromium, demo_server):
    tabs: list[Session] = []

    def open_tab() -> Session:
        tabs.append(Session(chromium, demo_server.url))
        return tabs[-1]
    yield open_tab
    for t in tabs:
        t.close()
