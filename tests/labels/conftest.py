"""Label fixtures: an enterprise with staff, a certifier and an operator, a certified label of
any scheme on a 6.25 kg CO2e per 5 kg bag footprint, and a retired tonne of credits."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import credits

EXAMPLES = Path(__file__).parents[2] / "examples" / "credits"


@pytest.fixture()
def retired_tonne(session, staff):
    """The Qingpu file imported and 1 t of its 2024 batch retired for the enterprise of
    ``staff``: 1,000,000 g its lots may hold and allocate."""
    organisation, _ = staff
    now = datetime.now(UTC)
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=now
    )
    batch = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    credits.retire(
        session,
        registry_code="YRD-CI",
        registry_reference="R-LOTS",
        beneficiary=organisation.name,
        beneficiary_organisation_id=organisation.id,
        purpose="碳中和标签",
        retired_on=date(2026, 11, 1),
        lines=[credits.RetirementLine(batch, 1)],
        now=now,
    )
    session.flush()


@pytest.fixture()
def staff(make_organisation, make_staff, sign_in, bearer):
    organisation = make_organisation("enterprise")
    user = make_staff(role="enterprise_staff", organisation=organisation)
    return organisation, bearer(sign_in(user.username))


@pytest.fixture()
def certifier(make_staff, sign_in, bearer):
    return bearer(sign_in(make_staff(role="certifier").username))


@pytest.fixture()
def operator(make_staff, sign_in, bearer):
    return bearer(sign_in(make_staff(role="operator").username))


@pytest.fixture()
def certified(client, staff, certifier):
    """Certify a label of the given scheme on a 6.25 kg CO2e per 5 kg bag footprint."""
    organisation, headers = staff
    product = client.post(
        "/api/v1/products",
        headers=headers,
        json={
            "organisation_id": organisation.id,
            "gtin": "6901234567892",
            "name": "练塘香粳米 5kg",
            "category": "milled_rice",
            "declared_unit": "unit",
            "net_content_g": 5000,
        },
    ).get_json()
    footprint = client.post(
        f"/api/v1/products/{product['id']}/footprints",
        headers=headers,
        json={
            "method": "declared",
            "kg_per_unit": "6.2500",
            "boundary": "cradle_to_gate",
            "gwp_set": "AR5",
            "period_start": "2025-05-01",
            "period_end": "2025-10-31",
            "breakdown": {"paddy": "1.0", "mill": "0.25"},
            "data_quality": {"primary_data_percent": 80},
            "verifier": "上海某认证有限公司",
            "report": {"title": "核查报告", "number": "R-1", "issued_on": "2025-12-01"},
        },
    ).get_json()

    def make(scheme="carbon_neutral", decide=True):
        label = client.post(
            "/api/v1/labels",
            headers=headers,
            json={
                "product_id": product["id"],
                "footprint_id": footprint["id"],
                "scheme": scheme,
                "markets": ["CN"],
            },
        ).get_json()
        if decide:
            for status in ("under_review", "certified"):
                response = client.post(
                    f"/api/v1/labels/{label['id']}/transitions",
                    headers=certifier,
                    json={"to_status": status},
                )
                assert response.status_code == 200, response.get_json()
        return label

    return make


def order(client, headers, label, units, lot_number="LT2026A"):
    return client.post(
        "/api/v1/lots",
        headers=headers,
        json={"label_id": label["id"], "lot_number": lot_number, "units": units},
    )
