"""Every page of every role, on a phone, in Chinese and in English, under the service's
Content-Security-Policy: the visit fails on any violation the browser reports and on any page
without its security headers (``Visit.check``). The screenshots (``test-artifacts/browser/``,
``pages-*``) show that nothing lost its styling when inline styles moved to stylesheets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Visit

LANGUAGES = ("zh-CN", "en")
PORTAL = ("/", "/labels", "/credits", "/log", "/notices")
#: The first link to a detail page on some list pages, visited too.
DETAILS = re.compile(r"^/(admin/labels|desk/products|desk/lots|notices)/[^/?]+$")
#: Links that are downloads or images, not pages.
NOT_PAGES = re.compile(r"\.(csv|json|svg|png)(\?|$)|/wxacode|/export")


@pytest.fixture()
def visitor(browser, live, wechat, request):
    visit = Visit(browser, live, "pages-" + request.node.name, PHONE, also=[wechat.base_url])
    yield visit
    visit.context.close()
    visit.check()


def with_language(path: str, language: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={language}"


def links(visit: Visit, selector: str) -> list[str]:
    """The same-site page paths that the links under ``selector`` lead to, in order, once each."""
    found: list[str] = []
    for href in visit.page.locator(selector).evaluate_all("els => els.map(e => e.href)"):
        parts = urlsplit(href)
        if not href.startswith(visit.live) or NOT_PAGES.search(href) or not parts.path:
            continue
        query = parts.query if parts.query and "lang=" not in parts.query else ""
        path = parts.path + (f"?{query}" if query else "")
        if path not in found:
            found.append(path)
    return found


def read_every_page(visit: Visit, start: str, nav: str) -> list[str]:
    """Visit ``start``, every page its navigation links to and the first detail page each of
    those links to, in both languages; returns the paths visited."""
    visit.page.goto(start)
    pages = [start] + [p for p in links(visit, nav) if p != start]
    details: list[str] = []
    for path in pages:
        visit.page.goto(path)
        detail = next((p for p in links(visit, "main a") if DETAILS.match(p)), None)
        if detail and detail not in pages and detail not in details:
            details.append(detail)
    for path in pages + details:
        for language in LANGUAGES:
            response = visit.page.goto(with_language(path, language))
            assert response is not None and response.ok, f"{path}: {response and response.status}"
            expect(visit.page.locator("html")).to_have_attribute("lang", language)
            name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
            visit.shot(f"{name}-{language}")
    return pages + details


def test_the_portal_and_a_scan_page(visitor, demo_instance):
    logins = (demo_instance / "demo-logins.txt").read_text()
    scan = re.search(r"scan page: (\S+)", logins)
    assert scan is not None
    read = read_every_page(visitor, "/", "header nav a")
    assert set(PORTAL) <= set(read)
    for language in LANGUAGES:
        visitor.page.goto(with_language(scan[1], language))
        expect(visitor.page.locator(".status")).to_be_visible()
        # The scan page's stylesheet applied: the status banner is coloured, not plain.
        background = visitor.page.locator(".status").evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        assert background not in ("rgba(0, 0, 0, 0)", "transparent")
        visitor.shot(f"scan-{language}")
        # The proof section says how to check it, with the one command to run.
        visitor.page.locator("#verify summary").click()
        expect(visitor.page.locator("#verify pre")).to_contain_text("python3 tanhui-verify.py unit")
        visitor.page.locator("#verify").scroll_into_view_if_needed()
        # The command wraps: the page still fits a phone's width.
        assert visitor.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        visitor.shot(f"scan-verify-{language}")


@pytest.mark.parametrize("username", ["operator", "certifier", "auditor"])
def test_the_console_for_each_platform_role(visitor, username):
    visitor.sign_in(username)
    expect(visitor.page.locator("header nav")).to_be_visible()
    read = read_every_page(visitor, "/admin/", "header nav a[href^='/admin']")
    assert len(read) > 2, read


@pytest.mark.parametrize("username", ["lianta", "tongli"])
def test_the_desk_for_each_enterprise(visitor, username):
    visitor.sign_in(username)
    read = read_every_page(visitor, "/desk/", "header nav a[href^='/desk']")
    assert len(read) > 2, read


def test_a_readers_points(visitor):
    read = read_every_page(visitor, "/me/", "header nav a[href^='/me']")
    assert "/me/" in read
