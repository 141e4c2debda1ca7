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
#: Every page reports what its Content-Security-Policy refused to the console, where the visit
#: collects it (Chromium logs most violations itself; this catches every one, with its source).
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP violation: " + event.violatedDirective + " blocked " +
                (event.blockedURI || "inline") + " at " + event.sourceFile + ":" +
                event.lineNumber);
});
"""
SECURITY_HEADERS = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
)


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
def demo_instance(tmp_path_factory) -> Path:
    """The served demo's instance folder (``demo-logins.txt`` names a sample scan page)."""
    return tmp_path_factory.mktemp("browser-demo")


@pytest.fixture(scope="session")
def live(demo_instance, wechat) -> str:
    """The demo, served once for every browser test (they read it and add to it)."""
    instance = demo_instance
    settings = {
        "WECHAT_API_BASE_URL": wechat.base_url,
        "WECHAT_OAUTH_BASE_URL": wechat.base_url,
        "WECHAT_WEB_APPID": wechat.web_appid,
        "WECHAT_WEB_SECRET": wechat.web_secret,
        # Every visitor signs in from 127.0.0.1: the tests together sign in more than ten
        # times a minute (test_pages signs in each role), past the default per-address limit.
        "RATELIMIT_SIGN_IN": "60 per minute;600 per hour",
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
        self.context.add_init_script(CSP_REPORTER)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.violations: list[str] = []
        self.page.on("console", self._console)
        self.unsecured: list[str] = []
        self.page.on("response", self._response)
        self.live = live
        self.prefix = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")
        self.shots = 0

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            self.violations.append(f"{self.page.url}: {message.text}")

    def _response(self, response) -> None:
        """Pages (documents) from the service must carry every security header."""
        if response.request.resource_type != "document" or not response.url.startswith(self.live):
            return
        missing = [name for name in SECURITY_HEADERS if name not in response.headers]
        if missing:
            self.unsecured.append(f"{response.url}: no {', '.join(missing)}")

    def check(self) -> None:
        """What every visit must end with: no script error, no CSP violation, every page with
        its security headers, nothing fetched from another host."""
        assert self.errors == [], self.errors
        assert self.violations == [], self.violations
        assert self.unsecured == [], self.unsecured
        assert self.foreign_requests() == []

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
        # The page asks for a challenge and solves it before it sends the form (sign_in.js):
        # wait until the form has been answered, or the next step would cut it short.
        self.page.wait_for_url(lambda url: "/admin/login" not in url)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith((self.live, *self.also))]


@pytest.fixture()
def desk(browser, live, request):
    visit = Visit(browser, live, request.node.name, DESK)
    yield visit
    visit.context.close()
    visit.check()


@pytest.fixture()
def phone(browser, live, wechat, request):
    """A phone in WeChat's browser: it may be sent to WeChat's authorisation and back."""
    visit = Visit(browser, live, request.node.name + "-phone", PHONE, also=[wechat.base_url])
    yield visit
    visit.context.close()
    visit.check()


@pytest.fixture()
def colleague(browser, live, request):
    """A second person at a desk (another browser, another sign-in)."""
    visit = Visit(browser, live, request.node.name + "-colleague", DESK)
    yield visit
    visit.context.close()
    visit.check()
