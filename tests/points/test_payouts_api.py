"""A farm turns 1,000 points into 10 yuan: requested (points held), approved by an operator (points
spent, fen owed through the ledger), exported once for the bank; rejections release the points."""

import csv
import hashlib
import io
import json

import pytest

from ledger import entries as ledger
from points.payouts import BUDGET_ACCOUNT, IN_TRANSFER_ACCOUNT, amount_fen_for, payable_account
from service.base.exceptions import ValidationFailed
from tests.conftest import count_rows

BANK = {"points": 1000, "method": "bank", "payee_name": "东厍村家庭农场",
        "payee_account": "6222021001112223334", "bank_name": "青浦农商银行练塘支行"}  # fmt: skip


def ask(client, farm, key, **changes):
    organisation, headers = farm
    return client.post(
        "/api/v1/points/payouts",
        headers={**headers, "Idempotency-Key": key},
        json={**BANK, "organisation_id": organisation.id, **changes},
    )


def balance(client, farm):
    organisation, headers = farm
    return client.get(f"/api/v1/points/organisations/{organisation.id}", headers=headers).get_json()


def test_the_rate_converts_exactly_or_names_the_step():
    assert amount_fen_for(1000, 100) == 1000
    assert amount_fen_for(1000, 50) == 500
    assert amount_fen_for(300, 33) == 99
    with pytest.raises(ValidationFailed) as caught:
        amount_fen_for(151, 50)
    assert caught.value.fields == {"points": ["Must be a multiple of 2."]}


def test_request_approve_export(client, farm, operator, give, session):
    organisation, _ = farm
    give(organisation, 1500)
    response = ask(client, farm, "p-1")
    assert response.status_code == 201, response.get_json()
    payout = response.get_json()
    assert (payout["status"], payout["amount_fen"], payout["fen_per_100_points"]) == (
        "requested",
        1000,
        100,
    )
    assert balance(client, farm)["available"] == 500
    assert ask(client, farm, "p-1").get_json()["id"] == payout["id"]
    assert ask(client, farm, "p-1", points=1200).get_json()["code"] == "idempotency_conflict"
    approved = client.post(
        f"/api/v1/points/payouts/{payout['id']}/decision",
        headers=operator,
        json={"decision": "approved", "note": "核对无误"},
    )
    assert approved.get_json()["status"] == "approved"
    assert (balance(client, farm)["balance"], balance(client, farm)["lifetime_spent"]) == (
        500,
        1000,
    )
    assert ledger.balance_of(session, payable_account(organisation.id)).balance == 1000
    assert ledger.balance_of(session, BUDGET_ACCOUNT).balance == -1000

    made = client.post("/api/v1/points/payouts/exports", headers=operator, json={"method": "bank"})
    assert made.status_code == 201, made.get_json()
    export = made.get_json()
    assert (export["payouts"], export["total_fen"]) == (1, 1000)
    download = client.get(f"/api/v1/points/payouts/exports/{export['id']}/file", headers=operator)
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(download.data).hexdigest()
    assert download.headers["X-Content-SHA256"] == export["sha256"]
    # One charset parameter (the type used to carry it twice, once added by werkzeug).
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="payouts-{export["id"]}.csv"'
    )
    rows = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig"))))
    assert rows[1][1:5] == [
        "东厍村家庭农场",
        "6222021001112223334",
        "青浦农商银行练塘支行",
        "10.00",
    ]
    assert ledger.balance_of(session, payable_account(organisation.id)).balance == 0
    assert ledger.balance_of(session, IN_TRANSFER_ACCOUNT).balance == 1000
    again = client.post("/api/v1/points/payouts/exports", headers=operator, json={"method": "bank"})
    assert (again.status_code, again.get_json()["code"]) == (404, "payouts_none_to_export")
    listed = client.get("/api/v1/points/payouts?status=exported", headers=operator).get_json()
    assert [row["export_id"] for row in listed] == [export["id"]]


def test_wechat_exports_list_openids_in_fen(client, farm, operator, give):
    organisation, _ = farm
    give(organisation, 500)
    payout = ask(client, farm, "w-1", points=500, method="wechat", payee_account="oFARM_openid_1",
                 bank_name="").get_json()  # fmt: skip
    client.post(f"/api/v1/points/payouts/{payout['id']}/decision", headers=operator,
                json={"decision": "approved"})  # fmt: skip
    export = client.post(
        "/api/v1/points/payouts/exports", headers=operator, json={"method": "wechat"}
    ).get_json()
    body = client.get(f"/api/v1/points/payouts/exports/{export['id']}/file", headers=operator)
    assert body.headers["Content-Type"] == "application/json"
    document = json.loads(body.data)
    assert (document["total_amount"], document["total_num"]) == (500, 1)
    assert document["transfer_detail_list"][0]["openid"] == "oFARM_openid_1"


def test_rejection_releases_the_points(client, farm, operator, give, session):
    organisation, _ = farm
    give(organisation, 1000)
    payout = ask(client, farm, "r-1").get_json()
    rejected = client.post(
        f"/api/v1/points/payouts/{payout['id']}/decision",
        headers=operator,
        json={"decision": "rejected", "note": "账户名不符"},
    )
    assert rejected.get_json()["status"] == "rejected"
    assert balance(client, farm)["available"] == 1000
    late = client.post(
        f"/api/v1/points/payouts/{payout['id']}/decision",
        headers=operator,
        json={"decision": "approved"},
    )
    assert (late.status_code, late.get_json()["code"]) == (409, "payout_state_conflict")
    assert count_rows(session, "payout_exports") == 0


def test_refusals(client, farm, staff, operator, give, session):
    organisation, headers = farm
    give(organisation, 300)
    too_many = ask(client, farm, "x-1", points=400)
    assert (too_many.status_code, too_many.get_json()["code"]) == (409, "points_insufficient")
    too_few = ask(client, farm, "x-2", points=50)
    assert too_few.status_code == 422
    no_bank = ask(client, farm, "x-3", points=100, bank_name="")
    assert [f["field"] for f in no_bank.get_json()["fields"]] == ["bank_name"]
    _, enterprise = staff
    foreign = client.post(
        "/api/v1/points/payouts",
        headers={**enterprise, "Idempotency-Key": "e-1"},
        json={**BANK, "organisation_id": organisation.id},
    )
    assert foreign.status_code == 403  # farm staff only
    decide = client.post("/api/v1/points/payouts/1/decision", headers=headers,
                         json={"decision": "approved"})  # fmt: skip
    assert decide.status_code == 403
    assert count_rows(session, "farm_payouts") == 0
    assert balance(client, farm)["available"] == 300
