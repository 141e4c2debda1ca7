"""An issued lot's codes for printing: every unit's Digital Link as CSV, single codes as SVG, PNG
and WeChat mini-program codes, and sheets; a lot not issued has none."""

from tests.labels.conftest import order


def test_an_issued_lot_exports_its_codes(app, client, staff, certified, operator):
    _, headers = staff
    lot = order(client, headers, certified("footprint"), 2_500).get_json()
    early = client.get(f"/api/v1/lots/{lot['id']}/codes.csv", headers=headers)
    assert (early.status_code, early.get_json()["code"]) == (409, "lot_state_conflict")
    client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "BOC-3", "amount_fen": 20_000},
    )
    response = client.get(f"/api/v1/lots/{lot['id']}/codes.csv", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 2_501
    assert (
        lines[1]
        .split(",")[2]
        .startswith(app.config["PUBLIC_BASE_URL"] + "/01/06901234567892/10/LT2026A/21/")
    )
    svg = client.get(f"/api/v1/lots/{lot['id']}/units/0/qr.svg", headers=headers)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    png = client.get(f"/api/v1/lots/{lot['id']}/units/2499/qr.png", headers=headers)
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        client.get(f"/api/v1/lots/{lot['id']}/units/2500/qr.png", headers=headers).status_code
        == 404
    )
    sheet = client.get(
        f"/api/v1/lots/{lot['id']}/sheet.svg", headers=headers, query_string={"start": 2490}
    )
    assert sheet.status_code == 200 and sheet.get_data(as_text=True).count("<path") == 10
    assert client.get(f"/api/v1/lots/{lot['id']}/qr.svg", headers=headers).status_code == 200


def test_a_unit_gets_a_mini_program_code_through_the_wechat_adapter(
    client, staff, certified, operator, fake_wechat
):
    _, headers = staff
    lot = order(client, headers, certified("footprint"), 10).get_json()
    client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "BOC-4", "amount_fen": 20_000},
    )
    response = client.get(f"/api/v1/lots/{lot['id']}/units/3/wxacode", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"
    (made,) = fake_wechat.codes_made
    assert made["page"] == "pages/scan/index"
    assert made["scene"].split(".")[0] and len(made["scene"]) <= 32

    fake_wechat.pages.clear()
    refused = client.get(f"/api/v1/lots/{lot['id']}/units/3/wxacode", headers=headers)
    assert (refused.status_code, refused.get_json()["code"]) == (400, "wechat_page_invalid")
    fake_wechat.expire_access_token()
    fake_wechat.pages.add("pages/scan/index")
    again = client.get(f"/api/v1/lots/{lot['id']}/units/4/wxacode", headers=headers)
    assert again.status_code == 200  # the stale token was refreshed once
