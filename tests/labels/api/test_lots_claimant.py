"""Whose credits back a lot: only grams retired in the lot's enterprise's own name. A quote says
how much the enterprise has and how many whole tonnes it must still retire; an order its grams
do not cover holds what it has and names the tonnes the registry retires on payment, even when
another enterprise's grams lie unallocated (those are never held)."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from labels import lots
from ledger import credits
from ledger.credits import selectors as credits_selectors
from tests.labels.conftest import EXAMPLES, order


def quote(client, headers, label, units):
    response = client.get(
        "/api/v1/lots/quote",
        headers=headers,
        query_string={"label_id": label["id"], "units": units},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize(
    ("units", "tonnes_to_retire"),
    [
        (160, 0),  # 160 × 6,250 g = 1,000,000 g: exactly the tonne retired
        (161, 1),  # 6,250 g more than the tonne: one whole tonne more
        (1_000, 6),  # 6.25 t: 5.25 t short, 6 whole tonnes
    ],
)
def test_a_quote_says_what_is_retired_and_what_must_still_be_retired(
    client, staff, certified, retired_tonne, units, tonnes_to_retire
):
    _, headers = staff
    answer = quote(client, headers, certified(), units)
    assert answer["retired_available_g"] == 1_000_000
    assert answer["tonnes_to_retire"] == tonnes_to_retire


def test_tonnes_to_retire_rounds_up_to_whole_tonnes():
    assert lots.tonnes_to_retire(1, 0) == 1
    assert lots.tonnes_to_retire(1_000_000, 0) == 1
    assert lots.tonnes_to_retire(1_000_001, 0) == 2
    assert lots.tonnes_to_retire(5, 10) == 0


def test_held_grams_are_not_quoted_again(client, staff, certified, session, retired_tonne):
    _, headers = staff
    label = certified()
    assert order(client, headers, label, 100).status_code == 201  # holds 625,000 g
    answer = quote(client, headers, label, 100)
    assert (answer["retired_available_g"], answer["tonnes_to_retire"]) == (375_000, 1)


def test_another_enterprises_retired_grams_never_back_a_lot(
    client, staff, certified, session, make_organisation
):
    """The attack of issue 20: a tonne lies retired and unallocated, but in another company's
    name. Before the claimant rule the order held it; now the order holds none of it and names
    the tonnes the registry must retire in the enterprise's own name on payment."""
    other = make_organisation("enterprise", name="吴江同里米业有限公司 Tongli Rice Co.")
    now = datetime.now(UTC)
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=now
    )
    batch = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    credits.retire(
        session,
        registry_code="YRD-CI",
        registry_reference="R-TONGLI",
        beneficiary="吴江同里米业有限公司",
        beneficiary_organisation_id=other.id,
        purpose="同里香粳米碳中和标签",
        retired_on=date(2026, 11, 1),
        lines=[credits.RetirementLine(batch, 1)],
        now=now,
    )
    _, headers = staff
    label = certified()

    assert quote(client, headers, label, 100)["tonnes_to_retire"] == 1
    response = order(client, headers, label, 100)

    assert response.status_code == 201, response.get_json()
    lot = response.get_json()
    assert (lot["held_g"], lot["tonnes_to_retire"]) == (0, 1)
    assert (
        credits_selectors.claimant_credits(session, organisation_id=other.id).available_g
        == 1_000_000
    )
