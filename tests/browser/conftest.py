"""Browser tests: Playwright for Python drives Debian's chromium against the demo served by
``scripts/demo.sh``. Each test saves screenshots under ``test-artifacts/browser/``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.fakes.wechat import FakeWeChat
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
def wechat():
    """A local WeChat for the demo: its official account signs a phone's reader in. The reader
    is the demo consumer 小林 (their unionid links the web sign-in to their points)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    fake = FakeWeChat(server, appid="wx-demo-miniprogram", secret="demo-secret")
    fake.web_reader = ("o-web-lin", "u-demo-lin")
    yield fake
    server.clear()
    server.stop()


@pytest.fixture(scope="session")
def live(tmp_path_factory, wechat) -> str:
    """The demo, served once for every browser test (they read it and add to it)."""
    instance = tmp_path_factory.mktemp("browser-demo")
    settings = {
        "WECHAT_API_BASE_URL": wechat.base_url,
        "WECHAT_OAUTH_BASE_URL": wechat.base_url,
        "WECHAT_WEB_APPID": wechat.web_appid,
        "WECHAT_WEB_SECRET": wechat.web_secret,
    }
    try:
        with demo_server(instance, settings) as base:
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

    def __init__(
        self, browser, live: str, test_name: str, viewport: dict[str, int], *, also=()
    ) -> None:
        self.also = tuple(also)  # other hosts this visitor is sent to (WeChat's authorisation)
        self.context = browser.new_context(viewport=viewport, base_url=live, locale="zh-CN")
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
        return [url for url in self.requests if not url.startswith((self.live, *self.also))]


@pytest.fixture()
def desk(browser, live, request):
    visit = Visit(browser, live, request.node.name, DESK)
    yield visit
    visit.context.close()
    assert visit.errors == [], visit.errors
    assert visit.foreign_requests() == []


@pytest.fixture()
def phone(browser, live, wechat, request):
    """A phone in WeChat's browser: it may be sent to WeChat's authorisation and back."""
    visit = Visit(browser, live, request.node.name + "-phone", PHONE, also=[wechat.base_url])
    yield visit
    visit.context.close()
    assert visit.errors == [], visit.errors
    assert visit.foreign_requests() == []


@pytest.fixture()
def colleague(browser, live, request):
    """A second person at a desk (another browser, another sign-in)."""
    visit = Visit(browser, live, request.node.name + "-colleague", DESK)
    yield visit
    visit.context.close()
    assert visit.errors == [], visit.errors
    assert visit.foreign_requests() == []
