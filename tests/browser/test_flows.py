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
    expect(page.get_by_text("python3 tanhui-verify.py mirror")).to_be_visible()
    # The demo's witness has cosigned the published checkpoint.
    expect(page.get_by_role("cell", name="witness.demo.tanhui/w1")).to_be_visible()
    expect(page.get_by_text("Yes: cosigned by 1 of 1 witnesses.")).to_be_visible()
    phone.shot("log-en")
    page.get_by_text("Leaf data").first.click()
    expect(page.locator("details[open] pre").first).to_contain_text('"type":')
    phone.shot("log-entry-en")
    page.goto("/log?lang=zh-CN")
    expect(page.get_by_role("heading", name="最新记录")).to_be_visible()
    phone.shot("log-zh")


def test_a_lot_from_order_to_redeemed_points(desk, colleague, phone):
    """Flows 2 to 7: Lianta orders a lot at its desk, the operator confirms the bank transfer,
    Lianta downloads the codes, a shopper opens a unit's scan page in WeChat's browser, signs in
    through WeChat, claims the unit's points, and redeems points for a personal offset."""
    page = desk.page
    desk.sign_in("lianta")
    expect(page.get_by_role("link", name="批次与二维码")).to_be_visible()
    page.get_by_role("link", name="批次与二维码").click()
    page.get_by_label("批号（GS1 AI 10）").fill("LT2026W")
    page.get_by_label("单品数量").fill("10")
    page.get_by_role("button", name="下单").click()
    expect(page.get_by_text("已下单，请付款。")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("待付款")
    due = page.locator("dt:has-text('应付金额') + dd strong").inner_text().lstrip("¥")
    desk.shot("ordered")

    office = colleague.page
    colleague.sign_in("operator")
    office.goto("/admin/lots?status=reserved")
    row = office.get_by_role("row").filter(has_text="LT2026W")
    row.get_by_label("银行流水号").fill("BOC-20261124-0007")
    row.get_by_label("到账金额（元）").fill(due.replace(",", ""))
    colleague.shot("payment")
    row.get_by_role("button", name="确认付款").click()
    expect(office.get_by_text("批次 LT2026W 已确认付款并发码。")).to_be_visible()
    colleague.shot("paid")

    page.reload()
    expect(page.locator("h1 .badge")).to_have_text("已发码")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="下载全部单品码（CSV）").click()
    rows = downloading.value.path().read_text().splitlines()
    assert rows[0] == "index,serial,uri" and len(rows) == 11
    unit = rows[1].split(",")[2]
    assert unit.startswith(f"{desk.live}/01/06901234567892/10/LT2026W/21/")
    desk.shot("issued")

    shopper = phone.page
    shopper.goto(unit)
    expect(shopper.get_by_role("heading", name="正品 · 标签有效")).to_be_visible()
    phone.shot("scan-page")
    shopper.get_by_role("link", name="认领这件产品的碳积分").click()
    expect(shopper.get_by_role("heading", name="认领这件产品的积分")).to_be_visible()
    expect(shopper.get_by_text("练塘香粳米 5kg")).to_be_visible()
    phone.shot("claim")
    shopper.get_by_role("button", name="认领积分").click()
    expect(shopper.get_by_text("认领成功，获得 10 积分。")).to_be_visible()
    expect(shopper.get_by_test_id("available")).to_have_text("490")
    phone.shot("claimed")

    offset = shopper.locator("section").filter(has_text="个人碳抵消 1 千克")
    offset.get_by_label("证书上的名字").fill("小林")
    offset.get_by_role("button", name="兑换 个人碳抵消 1 千克").click()
    expect(shopper.get_by_text("兑换成功。")).to_be_visible()
    expect(shopper.get_by_test_id("available")).to_have_text("440")
    expect(shopper.get_by_text(re.compile(r"TH-PO-\d{4}-\d{7}"))).to_be_visible()
    phone.shot("redeemed")

    page.reload()
    expect(page.locator(".stat").first).to_have_text("1")
    expect(page.locator("canvas[data-chart]")).to_be_visible()
    desk.shot("scans")
