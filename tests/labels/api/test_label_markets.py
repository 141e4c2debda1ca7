"""Markets over HTTP, in Chinese and English: an application names where the product is sold, an
unknown code is a field error, and a carbon-neutral application for an EU market is refused with
the directive's name and date. These run on today's clock, which is after 27 September 2026; the
date's edge is worked through with an explicit ``now`` in ``tests/labels/test_markets.py``."""

from datetime import UTC, datetime

import pytest

from labels import certification
from labels.markets import EU_OFFSET_CLAIM_BAN_FROM
from labels.models import Label, Product
from service.base.parties.services import principal_for

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
BANNED = {
    "zh-CN": (
        "本产品的销售市场（DE, EU）禁止基于抵消的碳中和声明：欧盟第 2024/825 号指令自 2026 年 "
        "9 月 27 日起在欧盟适用。碳足迹标签和低碳标签仍可申请。",
        "欧盟第 2024/825 号指令自 2026 年 9 月 27 日起禁止在欧盟基于抵消作出碳中和声明：请删除 "
        "DE, EU，或改为申请碳足迹标签或低碳标签。",
    ),
    "en": (
        "A carbon-neutral claim based on offsetting is banned where this product is sold "
        "(DE, EU): Directive (EU) 2024/825 has applied in the EU since 27 September 2026. "
        "Footprint and low-carbon labels remain available.",
        "Directive (EU) 2024/825 bans offset-based carbon-neutral claims in the EU from "
        "27 September 2026: remove DE, EU, or apply for a footprint or low-carbon label.",
    ),
}


def test_the_clock_is_past_the_ban():
    assert datetime.now(UTC) >= EU_OFFSET_CLAIM_BAN_FROM


@pytest.fixture()
def apply(client, staff, certified):
    """POST an application on the certified fixture's product and footprint."""
    _, headers = staff
    pending = certified("footprint", decide=False)

    def post(language, **body):
        return client.post(
            "/api/v1/labels",
            headers={**headers, **language},
            json={"product_id": pending["product_id"], "footprint_id": pending["footprint_id"],
                  **body},
        )  # fmt: skip

    return post


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_a_carbon_neutral_application_for_the_eu_is_refused_in_both_languages(
    apply, session, language
):
    response = apply(
        {"Accept-Language": language}, scheme="carbon_neutral", markets=["CN", "DE", "EU"]
    )
    body = response.get_json()
    assert (response.status_code, body["code"]) == (422, "label_claim_banned_in_market")
    message, field = BANNED[language]
    assert body["message"] == message
    assert body["fields"] == [{"field": "markets", "message": field}]
    assert session.query(Label).filter(Label.scheme == "carbon_neutral").count() == 0


def test_a_footprint_label_for_the_eu_is_taken_and_shows_its_markets(apply, client, staff):
    response = apply(EN, scheme="footprint", markets=["CN", "DE", "EU"])
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["markets"] == ["CN", "DE", "EU"]
    _, headers = staff
    label = client.get(f"/api/v1/labels/{response.get_json()['id']}", headers=headers)
    assert label.get_json()["markets"] == ["CN", "DE", "EU"]
    assert client.get("/api/v1/labels", headers=headers).get_json()[-1]["markets"] == [
        "CN",
        "DE",
        "EU",
    ]


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-CN", "未知的销售市场：XX。请使用大写的 ISO 3166-1 二位字母国家代码（中国大陆为 CN），"
                  "或用 EU 表示整个欧盟市场。"),
        ("en", "Unknown market: XX. Use a country's ISO 3166-1 alpha-2 code in capitals (CN for "
               "mainland China), or EU for the European Union as a whole."),
    ],
)  # fmt: skip
def test_an_unknown_market_is_a_field_error(apply, language, message):
    response = apply({"Accept-Language": language}, scheme="footprint", markets=["CN", "XX"])
    body = response.get_json()
    assert (response.status_code, body["code"]) == (422, "validation_failed")
    assert body["fields"] == [{"field": "markets", "message": message}]


@pytest.mark.parametrize(
    ("markets", "field"),
    [(None, "markets"), ([], "markets"), (["CHN"], "markets.0"), ("CN", "markets")],
    ids=["missing", "empty", "three letters", "not a list"],
)
def test_markets_are_required_as_a_list_of_codes(apply, markets, field):
    body = {} if markets is None else {"markets": markets}
    response = apply(EN, scheme="footprint", **body)
    assert response.status_code == 422
    assert [error["field"] for error in response.get_json()["fields"]] == [field]


def test_a_certifier_cannot_certify_a_carbon_neutral_label_for_the_eu_applied_before_the_ban(
    client, session, certified, certifier, make_staff
):
    """Applied for in August 2026, still under review after the ban: certifying it is refused
    with the same reason."""
    pending = certified("footprint", decide=False)
    label = certification.label_apply(
        session,
        principal=principal_for(make_staff(role="operator")),
        product=session.get(Product, pending["product_id"]),
        footprint_id=pending["footprint_id"],
        scheme="carbon_neutral",
        markets=["CN", "DE", "EU"],
        now=datetime(2026, 8, 1, tzinfo=UTC),
    )
    path = f"/api/v1/labels/{label.id}/transitions"
    assert (
        client.post(path, headers=certifier, json={"to_status": "under_review"}).status_code == 200
    )
    for language in ("zh-CN", "en"):
        response = client.post(
            path,
            headers={**certifier, "Accept-Language": language},
            json={"to_status": "certified"},
        )
        body = response.get_json()
        assert (response.status_code, body["code"]) == (422, "label_claim_banned_in_market")
        assert (body["message"], body["fields"][0]["message"]) == BANNED[language]
    session.expire_all()
    assert session.get(Label, label.id).status == "under_review"
