"""Phone binding through getuserphonenumber, with the shared server-side access token."""

import sqlalchemy as sa

from service.base.parties.models import User


def test_binding_stores_the_number_wechat_vouches_for(
    client, fake_wechat, consumer_tokens, bearer, session
):
    tokens = consumer_tokens()
    code = fake_wechat.issue_phone_code("13912345678")
    response = client.post("/api/v1/auth/wechat/phone", json={"code": code}, headers=bearer(tokens))
    assert response.status_code == 200
    assert response.get_json()["phone"] == "13912345678"
    user = session.get(User, tokens["user"]["id"])
    session.refresh(user)
    assert (user.phone, user.phone_country_code) == ("13912345678", "86")


def test_binding_needs_a_signed_in_user(client, fake_wechat):
    response = client.post(
        "/api/v1/auth/wechat/phone", json={"code": fake_wechat.issue_phone_code()}
    )
    assert response.status_code == 401


def test_a_number_bound_to_someone_else_is_refused(client, fake_wechat, consumer_tokens, bearer):
    first, second = consumer_tokens(), consumer_tokens()
    client.post(
        "/api/v1/auth/wechat/phone",
        json={"code": fake_wechat.issue_phone_code("13700000001")},
        headers=bearer(first),
    )
    response = client.post(
        "/api/v1/auth/wechat/phone",
        json={"code": fake_wechat.issue_phone_code("13700000001")},
        headers=bearer(second),
    )
    assert response.status_code == 409
    assert response.get_json()["code"] == "phone_taken"


def test_an_invalid_phone_code(client, consumer_tokens, bearer, session):
    tokens = consumer_tokens()
    response = client.post(
        "/api/v1/auth/wechat/phone", json={"code": "bogus"}, headers=bearer(tokens)
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "wechat_phone_code_invalid"
    assert session.scalar(sa.select(User.phone).where(User.id == tokens["user"]["id"])) is None


def test_the_access_token_is_fetched_once_for_many_bindings(
    client, fake_wechat, consumer_tokens, bearer
):
    for index in range(3):
        tokens = consumer_tokens()
        code = fake_wechat.issue_phone_code(f"1360000000{index}")
        assert (
            client.post(
                "/api/v1/auth/wechat/phone", json={"code": code}, headers=bearer(tokens)
            ).status_code
            == 200
        )
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 1
    assert fake_wechat.calls["/wxa/business/getuserphonenumber"] == 3


def test_a_token_wechat_no_longer_accepts_is_refreshed_once(
    client, fake_wechat, consumer_tokens, bearer
):
    tokens = consumer_tokens()
    client.post(
        "/api/v1/auth/wechat/phone",
        json={"code": fake_wechat.issue_phone_code("13500000001")},
        headers=bearer(tokens),
    )
    fake_wechat.expire_access_token()  # another system forced a refresh: ours answers 40001 now
    tokens = consumer_tokens()
    response = client.post(
        "/api/v1/auth/wechat/phone",
        json={"code": fake_wechat.issue_phone_code("13500000002")},
        headers=bearer(tokens),
    )
    assert response.status_code == 200
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 2
