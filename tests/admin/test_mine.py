"""A reader who scans a pack with WeChat's camera lands on our pages, not the mini-program: they
sign in silently through the official account's web authorisation (against the local fake of
WeChat), claim the unit they scanned, and redeem points, each form once however often it is sent."""

import re
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa

from points.models import RedemptionOrder, UnitClaim
from service.base.parties.models import WeChatIdentity
from tests.admin.conftest import form_token

KEY = re.compile(r'name="key" value="([^"]+)"')


def wechat_sign_in(client, app, next_path="/me/"):
    """Follow the pages' redirects through WeChat's authorisation and back."""
    start = client.get(f"/me/sign-in?next={next_path}")
    assert start.status_code == 302, start.get_data(as_text=True)
    authorize = start.headers["Location"]
    wechat = requests.get(authorize.split("#")[0], allow_redirects=False, timeout=5)
    assert wechat.status_code == 302
    back = urlsplit(wechat.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == app.config["PUBLIC_BASE_URL"]
    return client.get(f"{back.path}?{back.query}")


def test_a_reader_signs_in_through_wechat_and_lands_where_they_were(
    app, client, session, fake_wechat
):
    first = client.get("/me/")
    assert first.headers["Location"] == "/me/sign-in?next=/me/"
    start = client.get("/me/sign-in?next=/me/")
    authorize = urlsplit(start.headers["Location"])
    query = parse_qs(authorize.query)
    assert authorize.path == "/connect/oauth2/authorize" and authorize.fragment == "wechat_redirect"
    assert query["appid"] == [fake_wechat.web_appid] and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == [app.config["PUBLIC_BASE_URL"] + "/me/sign-in/wechat"]
    landed = wechat_sign_in(client, app)
    assert (landed.status_code, landed.headers["Location"]) == (302, "/me/")
    page = client.get("/me/?lang=en").get_data(as_text=True)
    assert "My points" in page and "No points yet." in page
    identity = session.scalars(sa.select(WeChatIdentity)).one()
    assert (identity.appid, identity.openid) == (fake_wechat.web_appid, "o-web-reader")
    # Signing in again finds the same reader.
    client.post("/admin/logout", data={"csrf_token": form_token(page)})
    wechat_sign_in(client, app)
    assert session.scalar(sa.select(sa.func.count()).select_from(WeChatIdentity)) == 1


def fresh_state(client):
    """Forget who is signed in and start a sign-in: the state the pages expect back."""
    with client.session_transaction() as cookie:
        cookie.clear()
    start = client.get("/me/sign-in")
    return parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]


def test_a_forged_state_or_a_used_code_signs_nobody_in(app, client, session, fake_wechat):
    english = {"Accept-Language": "en"}
    fake_wechat.web_codes["c0ffee" * 5] = ("o-someone", None)
    fresh_state(client)
    forged = client.get(f"/me/sign-in/wechat?code={'c0ffee' * 5}&state=not-ours", headers=english)
    assert forged.status_code == 422 and "state" in forged.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(WeChatIdentity)) == 0
    used = client.get(f"/me/sign-in/wechat?code={'c0ffee' * 5}&state={fresh_state(client)}")
    assert used.status_code == 302  # the code's first use signs in
    replayed = client.get(
        f"/me/sign-in/wechat?code={'c0ffee' * 5}&state={fresh_state(client)}", headers=english
    )
    assert replayed.status_code == 400 and "wechat_code_used" in replayed.get_data(as_text=True)
    assert client.get("/me/").status_code == 302  # still nobody


def test_without_the_official_account_the_page_says_to_open_wechat(make_app):
    app = make_app(WECHAT_WEB_APPID="", WECHAT_WEB_SECRET="")
    answer = app.test_client().get("/me/sign-in?lang=en")
    assert answer.status_code == 503 and "Open this in WeChat" in answer.get_data(as_text=True)


def test_claiming_a_scanned_unit_from_its_scan_page(app, client, lot_codes, rule, session):
    uri = lot_codes(3)
    path = urlsplit(uri).path
    scan = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    link = re.search(r'href="(/me/claim\?code=[^"]+)"', scan).group(1).replace("&amp;", "&")
    assert client.get(link).headers["Location"].startswith("/me/sign-in?next=/me/claim")
    wechat_sign_in(client, app, next_path=link)
    confirm = client.get(link, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "LT2026A" in confirm
    form = {"csrf_token": form_token(confirm), "code": uri, "key": KEY.search(confirm).group(1)}
    claimed = client.post("/me/claim?lang=en", data=form, follow_redirects=True)
    assert "Claimed: 10 points." in claimed.get_data(as_text=True)
    # The same form again is the same claim, not a second one.
    again = client.post("/me/claim?lang=en", data=form, follow_redirects=True)
    assert "Claimed: 10 points." in again.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(UnitClaim)) == 1
    fresh = client.get(link).get_data(as_text=True)
    twice = client.post(
        "/me/claim?lang=en",
        data={**form, "key": KEY.search(fresh).group(1)},
        follow_redirects=True,
    )
    assert "already" in twice.get_data(as_text=True).lower()
    points = client.get("/me/?lang=en").get_data(as_text=True)
    assert re.search(r'data-testid="available">10<', points)


def test_a_forged_code_claims_nothing(app, client, lot_codes, rule, session):
    wechat_sign_in(client, app)
    forged = lot_codes(0)[:-3] + "AAA"
    confirm = client.get(f"/me/claim?code={forged}").get_data(as_text=True)
    form = {"csrf_token": form_token(confirm), "code": forged, "key": KEY.search(confirm).group(1)}
    answer = client.post("/me/claim?lang=en", data=form, follow_redirects=True)
    assert "Claimed" not in answer.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(UnitClaim)) == 0


def test_redeeming_points_once_per_form(app, client, give, operator, session):
    item = client.post(
        "/api/v1/points/catalogue",
        headers=operator,
        json={"code": "RICE-1KG", "name_zh": "有机大米 1 千克", "name_en": "Organic rice, 1 kg",
              "audience": "consumer", "kind": "goods", "price_points": 120, "stock": 5},
    ).get_json()  # fmt: skip
    wechat_sign_in(client, app)
    reader_id = session.scalars(sa.select(WeChatIdentity.user_id)).one()
    give({"user": {"id": reader_id}}, 300)
    page = client.get("/me/?lang=en").get_data(as_text=True)
    assert re.search(r'data-testid="available">300<', page) and "Organic rice, 1 kg" in page
    key = re.search(rf'name="key" value="([^"]+-{item["id"]})"', page).group(1)
    form = {"csrf_token": form_token(page), "item_id": str(item["id"]), "key": key}
    for _ in range(2):
        answer = client.post("/me/orders?lang=en", data=form, follow_redirects=True)
        assert "Redeemed." in answer.get_data(as_text=True)
    orders = session.scalars(sa.select(RedemptionOrder)).all()
    assert [(order.status, order.points) for order in orders] == [("reserved", 120)]
    after = client.get("/me/?lang=en").get_data(as_text=True)
    assert re.search(r'data-testid="available">180<', after) and "Organic rice, 1 kg" in after
    too_many = client.post(
        "/me/orders?lang=en", data={**form, "key": key + "x", "quantity": "101"},
        follow_redirects=True,
    )  # fmt: skip
    assert "Quantity: Must be greater than or equal to 1 and less than or equal to 100." in (
        too_many.get_data(as_text=True)
    )
