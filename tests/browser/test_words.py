"""Words in the browser: a form filled wrongly on a zh-CN page answers wholly in Chinese, and the
same mistake on the English page wholly in English. Screenshots (phone-sized) in
``test-artifacts/browser/``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Visit

#: A word of English prose: Latin letters with a lowercase one (acronyms such as GTIN are names).
ENGLISH_WORD = re.compile(r"[A-Za-z]*[a-z][A-Za-z]*")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture()
def small_desk(browser, live, request):
    """An enterprise's member of staff on a phone."""
    visit = Visit(browser, live, request.node.name, PHONE)
    yield visit
    visit.context.close()
    visit.check()


def register_wrongly(visit: Visit, *, net_content_g: str) -> str:
    """Register a product with a GTIN whose check digit is wrong: the browser lets it through,
    the service refuses it (the form's schema first, then the GTIN). Returns the error shown."""
    page = visit.page
    page.locator("#gtin").fill("06901234567891")
    page.locator("#name").fill("试验大米 1kg")
    page.locator("#net_content_g").fill(net_content_g)
    page.locator("form[method=post] button[type=submit]").last.click()
    error = page.locator(".flash.error")
    expect(error).to_be_visible()
    return error.inner_text()


def test_a_wrong_form_on_a_chinese_page_answers_in_chinese(small_desk):
    small_desk.sign_in("lianta")
    small_desk.page.goto("/desk/products")
    errors = [register_wrongly(small_desk, net_content_g="0")]  # marshmallow's range
    small_desk.shot("zh-range")
    errors.append(register_wrongly(small_desk, net_content_g="1000"))  # our GTIN check
    small_desk.shot("zh-gtin")
    for text in errors:
        assert CHINESE.search(text), text
        assert ENGLISH_WORD.findall(text) == [], text
    assert errors[0] == "部分字段无效。 净含量（克）：须大于等于 1 且小于等于 50000。"
    assert errors[1].startswith("部分字段无效。 GTIN：不是有效的 GTIN")

    small_desk.page.goto("/desk/products?lang=en")
    errors = [register_wrongly(small_desk, net_content_g="0")]
    small_desk.shot("en-range")
    errors.append(register_wrongly(small_desk, net_content_g="1000"))
    small_desk.shot("en-gtin")
    for text in errors:
        assert not CHINESE.search(text), text
    assert errors[0] == (
        "Some fields are invalid. Net content (grams): "
        "Must be greater than or equal to 1 and less than or equal to 50000."
    )
    assert errors[1].startswith("Some fields are invalid. GTIN: Not a valid GTIN")
