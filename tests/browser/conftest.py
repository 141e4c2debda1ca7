"""Browser tests: Playwright for Python drives Debian's chromium against the demo served by
``scripts/demo.sh``. Each test saves screenshots under ``test-artifacts/browser/``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.live import ROOT, DemoFailed, demo_server

ARTIFACTS = ROOT / "test-artifacts" / "browser"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}
DEMO_PASSWORD = "tanhui-demo-2026"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("TEST_CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).exists():
        message = "chromium not found: run `make test`, which installs Debian's chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> str:
    """The demo, served once for every browser test (they read it and add to it)."""
    instance = tmp_path_factory.mktemp("browser-demo")
    try:
        with demo_server(instance) as base:
            yield base
    except DemoFailed as failure:
        pytest.fail(str(failure))


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, args=["--headless", "--no-sandbox"]
        )
        yield launched
        launched.close()


class Visit:
    """One visitor: a browser context, its page, and screenshots named after the test."""

    def __init__(self, browser, live: str, test_name: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, base_url=live)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.live = live
        self.prefix = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")
        self.shots = 0

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = ARTIFACTS / f"{self.prefix}-{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.page.goto("/admin/login")
        self.page.get_by_label(re.compile("用户名|Username")).fill(username)
        self.page.get_by_label(re.compile("密码|Password")).fill(password)
        self.page.get_by_role("button", name=re.compile("登录|Sign in")).click()

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.live)]


@pytest.fixture()
def desk(browser, live, request):
    visit = Visit(browser, live, request.node.name, DESK)
    yield visit
    visit.context.close()
    assert visit.errors == [], visit.errors
    assert visit.foreign_requests() == []


@pytest.fixture()
def phone(browser, live, request):
    visit = Visit(browser, live, request.node.name + "-phone", PHONE)
    yield visit
    visit.context.close()
    assert visit.errors == [], visit.errors
    assert visit.foreign_requests() == []
