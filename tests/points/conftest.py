"""Points tests reuse the label fixtures (an enterprise, a certifier, an operator, certified
labels and issued lots) and add a farm with its staff and an operator who grants points."""

import itertools
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from labels.codes import serial_for
from labels.lots import lot_key_of
from labels.models import LabelLot, Product
from ledger import credits
from service.base.parties.services import platform_organisation
from tests.labels.conftest import (  # noqa: F401
    EXAMPLES,
    certified,
    certifier,
    operator,
    order,
    retired_tonne,
    staff,
)

GRANT_RULE = {
    "event_type": "operator_grant",
    "formula": {"kind": "fixed", "points": 100},
    "validity_days": 365,
}


@pytest.fixture()
def farm(make_organisation, make_staff, sign_in, bearer):
    """An approved farm in Qingpu (310118) and the headers of one of its staff."""
    organisation = make_organisation("farm", uscc=None, name="练塘镇东厍村家庭农场")
    user = make_staff(role="farm_staff", organisation=organisation)
    return organisation, bearer(sign_in(user.username))


@pytest.fixture()
def give(client, operator):  # noqa: F811
    """Grant points to a consumer (their token response) or an organisation, under an
    operator_grant rule without caps."""
    response = client.post("/api/v1/points/rules", headers=operator, json=GRANT_RULE)
    assert response.status_code == 201, response.get_json()
    keys = itertools.count(1)

    def do(party, points):
        owner = (
            ("user", party["user"]["id"]) if isinstance(party, dict) else ("organisation", party.id)
        )
        response = client.post(
            "/api/v1/points/grants",
            headers={**operator, "Idempotency-Key": f"give-{next(keys)}"},
            json={
                "owner_type": owner[0],
                "owner_id": owner[1],
                "points": points,
                "reason": "test",
            },  # fmt: skip
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return do


@pytest.fixture()
def lot_codes(app, client, staff, certified, operator, session):  # noqa: F811
    """An issued footprint-label lot of 100 bags; returns a function giving unit i's URI."""
    _, headers = staff
    lot = order(client, headers, certified("footprint"), 100).get_json()
    client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "BOC-77", "amount_fen": lot["amount_fen"]},
    )
    row = session.get(LabelLot, lot["id"])
    key = lot_key_of(row, session.get(Product, row.product_id), app.config["UNIT_CODE_MASTER_KEYS"])
    base = app.config["PUBLIC_BASE_URL"]

    def uri(index):
        return f"{base}/01/06901234567892/10/LT2026A/21/{serial_for(key, index)}"

    uri.lot = lot
    return uri


@pytest.fixture()
def programme_tonne(session):
    """1 t of the Qingpu file's 2024 batch retired for the personal-offset programme (by
    default the platform organisation): what personal offsets draw on."""
    now = datetime.now(UTC)
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=now
    )
    batch = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    programme = platform_organisation(session)
    credits.retire(
        session,
        registry_code="YRD-CI",
        registry_reference="R-OFFSETS",
        beneficiary=programme.name,
        beneficiary_organisation_id=programme.id,
        purpose="碳汇平台个人碳抵消计划",
        retired_on=date(2026, 11, 1),
        lines=[credits.RetirementLine(batch, 1)],
        now=now,
    )
    session.flush()
    return programme
