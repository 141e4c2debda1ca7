"""The main flows, end to end in chromium against the demo, with screenshots in
``test-artifacts/browser/``."""

import re

from playwright.sync_api import expect


def test_a_certifier_certifies_a_label(desk):
    """Flow 1: the certifier reviews Tongli's application with its footprint in front of them,
    certifies it, and the public registry lists it."""
    page = desk.page
    desk.sign_in("certifier")
    expect(page.get_by_role("heading", name="概览")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="标签申请", exact=True).click()
    page.get_by_label("状态").select_option("submitted")
    page.get_by_role("button", name="筛选").click()
    desk.shot("applications")
    page.get_by_role("link", name="同里香软米 2.5kg").click()
    expect(page.get_by_text("分阶段构成")).to_be_visible()
    expect(page.get_by_role("cell", name="稻田甲烷")).to_be_visible()
    desk.shot("application")
    page.get_by_role("button", name="开始审核").click()
    expect(page.get_by_text("决定已记录。")).to_be_visible()
    page.get_by_role("button", name="认证").click()
    expect(page.get_by_text("决定已记录。")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("有效")
    certificate = page.locator("dt:has-text('证书号') + dd").inner_text()
    assert re.fullmatch(r"TH-\d{4}-\d{6}", certificate.strip())
    desk.shot("certified")
    page.goto("/labels?q=同里")
    expect(page.get_by_role("cell", name=certificate.strip())).to_be_visible()
    desk.shot("registry")


def test_the_portal_reads_on_a_phone_in_both_languages(phone):
    page = phone.page
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("长三角农业碳汇试点")
    phone.shot("home")
    page.goto("/credits")
    expect(page.locator("canvas[data-chart]").first).to_be_visible()
    phone.shot("credits")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Credit disclosure")
    phone.shot("credits-en")
    page.goto("/log")
    expect(page.get_by_text("tanhui log verify-proof")).to_be_visible()
    phone.shot("log-en")
