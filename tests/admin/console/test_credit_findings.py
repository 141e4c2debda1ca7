"""An operator resolves a finding of the claimant rule in the console.

The world, as migration 0017 leaves it: the enterprise's carbon-neutral lot was backed by a tonne
whose registry record, it turned out, names the personal-offset programme, not the enterprise.
The allocation's part keeps no claimant and a finding records it; ``ledger verify`` passes and
lists it as known. The operator ticks the box and resolves it: the allocation is reversed into the
very lot it drew on, the same grams are allocated again from the enterprise's own retirement,
the lot's scan shows the new backing, and verify passes with nothing known left.
"""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from labels.codes import serial_for
from labels.lots import lot_key_of
from labels.models import LabelLot, Product
from ledger import credits
from ledger.credits import disclosure
from ledger.credits import selectors as credit_selectors
from ledger.credits.models import (
    CreditAllocation,
    CreditAllocationFinding,
    CreditAllocationPart,
    CreditRetirement,
)
from ledger.models import Entry, LogPending
from ledger.verify import ledger_verify
from points import rules
from points.models import FarmDistribution, RedemptionOrder
from service.base.parties.services import platform_organisation
from tests.admin.conftest import form_token
from tests.labels.conftest import order
from tests.points.conftest import programme_tonne  # noqa: F401 - shared fixture
from tests.points.test_redemption_api import OFFSET, place, stock
from tests.service.test_roles_and_writes import snapshot

UNITS = 100
GRAMS = UNITS * 6_250  # 6.25 kg CO2e a bag


def _triggers_off(session):
    """Lift the immutability triggers of two record tables for the rest of the statement block
    (what a registry file recorded before 0017 could say is written past them); answers the
    function that puts them back."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET session_replication_role = replica"))
        return lambda: session.execute(sa.text("SET session_replication_role = origin"))
    names = ("credit_retirements_no_update", "credit_allocation_parts_no_update")
    saved = [
        session.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name})
        for name in names
    ]
    for name in names:
        session.execute(sa.text(f"DROP TRIGGER {name}"))
    return lambda: [session.execute(sa.text(sql)) for sql in saved]


def _misattributed(session, allocation, retirement, *, claimant_id, beneficiary):
    """What a registry file recorded before 0017 could say: the retirement's record names
    ``beneficiary``, the allocation's part keeps no claimant, and a finding records it (written
    past the immutability triggers, as the migration found it)."""
    restore = _triggers_off(session)
    session.execute(
        sa.update(CreditAllocationPart)
        .where(CreditAllocationPart.allocation_id == allocation.id)
        .values(claimant_organisation_id=None)
    )
    session.execute(
        sa.update(CreditRetirement)
        .where(CreditRetirement.id == retirement.id)
        .values(beneficiary=beneficiary.name, beneficiary_organisation_id=beneficiary.id)
    )
    restore()
    record = CreditAllocationFinding(
        allocation_id=allocation.id, retirement_id=retirement.id,
        claimant_organisation_id=claimant_id, beneficiary_organisation_id=beneficiary.id,
        problem="other_beneficiary", quantity_g=allocation.quantity_g, status="open",
        created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(record)
    return record


@pytest.fixture()
def finding(app, client, session, staff, certified, operator, retired_tonne):
    """The enterprise's lot of 100 bags issued on its tonne; then that tonne's record turns out
    to name the programme: the allocation breaks the claimant rule and a finding records it."""
    enterprise, headers = staff
    lot = order(client, headers, certified("carbon_neutral"), UNITS).get_json()
    paid = client.post(f"/api/v1/lots/{lot['id']}/offline-payment", headers=operator,
                       json={"reference": "BOC-9", "amount_fen": lot["amount_fen"]})  # fmt: skip
    assert paid.status_code == 200, paid.get_json()
    row = session.get(LabelLot, lot["id"])
    allocation = session.get(CreditAllocation, row.allocation_id)
    retirement = session.scalars(
        sa.select(CreditRetirement).where(CreditRetirement.registry_reference == "R-LOTS")
    ).one()
    programme = platform_organisation(session)
    record = _misattributed(
        session, allocation, retirement, claimant_id=enterprise.id, beneficiary=programme
    )
    session.flush()
    session.expire_all()
    report = ledger_verify(session)
    assert report.ok, report.problems
    assert len(report.known) == 1
    return record, row


def _own_tonne(session, enterprise):
    """A tonne the registry retired in the enterprise's own name."""
    batch = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    credits.retire(
        session, registry_code="YRD-CI", registry_reference="R-OWN", beneficiary=enterprise.name,
        beneficiary_organisation_id=enterprise.id, purpose="碳中和标签",
        retired_on=date(2026, 11, 2), lines=[credits.RetirementLine(batch, 1)],
        now=datetime.now(UTC),
    )  # fmt: skip
    session.flush()


def _resolve(client, finding_id, confirm="yes"):
    page = client.get("/admin/credits")
    html = page.get_data(as_text=True)
    assert f"/admin/credits/findings/{finding_id}/resolution" in html
    data = {"csrf_token": form_token(html)} | ({"confirm": confirm} if confirm else {})
    return client.post(f"/admin/credits/findings/{finding_id}/resolution", data=data)


def _scan(app, client, session, lot):
    key = lot_key_of(lot, session.get(Product, lot.product_id), app.config["UNIT_CODE_MASTER_KEYS"])
    path = f"/01/06901234567892/10/{lot.lot_number}/21/{serial_for(key, 1)}"
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 200
    return response.get_json()


def test_an_operator_reverses_and_re_allocates_from_the_claimants_own_retirement(
    app, client, session, staff, finding, console_sign_in
):
    record, lot = finding
    enterprise, _ = staff
    before = _scan(app, client, session, lot)
    assert "R-LOTS" in str(before)
    _own_tonne(session, enterprise)
    console_sign_in("operator")

    response = _resolve(client, record.id)

    assert response.status_code == 303
    session.expire_all()
    record = session.get(CreditAllocationFinding, record.id)
    assert record.status == "resolved" and record.resolved_by is not None
    new = session.get(CreditAllocation, record.replacement_allocation_id)
    assert session.get(LabelLot, lot.id).allocation_id == new.id
    assert (new.claimant_organisation_id, new.quantity_g) == (enterprise.id, GRAMS)
    own = session.scalar(
        sa.select(CreditRetirement.id).where(CreditRetirement.registry_reference == "R-OWN")
    )
    parts = session.scalars(
        sa.select(CreditAllocationPart).where(CreditAllocationPart.allocation_id == new.id)
    ).all()
    assert {part.retirement_id for part in parts} == {own}
    # The old allocation's parts stay as history, marked by the entry that reversed it.
    old = session.get(CreditAllocation, record.allocation_id)
    reversed_parts = session.scalars(
        sa.select(CreditAllocationPart).where(CreditAllocationPart.allocation_id == old.id)
    ).all()
    reversal = session.get(Entry, reversed_parts[0].reversal_entry_id)
    assert reversal.reverses_entry_id == old.entry_id
    # The finding and its resolution are log events.
    kinds = set(session.scalars(sa.select(LogPending.kind)))
    assert {"credits.finding", "credits.finding_resolution"} <= kinds
    # The scan shows the new backing.
    after = _scan(app, client, session, lot)
    assert "R-OWN" in str(after) and "R-LOTS" not in str(after)
    # The registry's figures count the grams once: the reversed allocation holds none.
    assert credit_selectors.registry_figures(session).allocated_g == GRAMS
    export = list(disclosure.export_rows(session))
    assert sum(row["allocated_g"] for row in export) == GRAMS
    report = ledger_verify(session)
    assert report.ok, report.problems
    assert report.known == []


def test_a_claimant_without_enough_grams_is_refused_and_nothing_changes(
    client, session, finding, console_sign_in
):
    """The enterprise has no tonne of its own: the refusal names the tonnes still to retire, in
    both languages, and the database is exactly as before."""
    record, lot = finding
    console_sign_in("operator")
    before = snapshot(session)

    for language, words in (("zh-CN", "还需为其注销 1 t"), ("en", "retire 1 t more for it")):
        token = form_token(client.get("/admin/credits").get_data(as_text=True))
        response = client.post(
            f"/admin/credits/findings/{record.id}/resolution",
            data={"csrf_token": token, "confirm": "yes"},
            headers={"Accept-Language": language}, follow_redirects=True,
        )  # fmt: skip
        assert words in response.get_data(as_text=True)

    assert snapshot(session) == before
    page = client.get("/admin/credits").get_data(as_text=True)
    assert f"/admin/credits/findings/{record.id}/resolution" in page


def test_a_lot_whose_farm_shares_were_paid_is_not_re_allocated(
    client, session, staff, finding, console_sign_in
):
    """The farms were paid their shares of the allocation: a replacement would be distributed
    again, paying them twice for the same grams. The resolution is refused and nothing changes."""
    record, lot = finding
    enterprise, _ = staff
    _own_tonne(session, enterprise)
    now = datetime.now(UTC)
    rule = rules.rule_publish(
        session, event_type="farm_share", user_id=None, now=now,
        values={"formula": {"kind": "per_kg_co2e", "points_per_kg": "2"}, "validity_days": 730},
    )  # fmt: skip
    session.add(FarmDistribution(allocation_id=lot.allocation_id, rule_id=rule.id, points=1_250,
                                 created_at=now))  # fmt: skip
    session.flush()
    console_sign_in("operator")
    before = snapshot(session)

    refused = _resolve(client, record.id)

    assert refused.status_code == 303  # back to the credits page, with the reason
    assert snapshot(session) == before
    page = client.get("/admin/credits").get_data(as_text=True)
    assert "冲销它会让农场为同样的克数再得一次" in page
    assert f"/admin/credits/findings/{record.id}/resolution" in page  # still open


def test_the_box_must_be_ticked(client, session, finding, console_sign_in):
    record, _ = finding
    console_sign_in("operator")
    before = snapshot(session)

    _resolve(client, record.id, confirm=None)

    assert snapshot(session) == before


def test_a_resolved_finding_is_not_resolved_twice(client, session, staff, finding, console_sign_in):
    record, _ = finding
    enterprise, _ = staff
    _own_tonne(session, enterprise)
    console_sign_in("operator")
    _resolve(client, record.id)
    before = snapshot(session)

    token = form_token(client.get("/admin/credits").get_data(as_text=True))
    client.post(f"/admin/credits/findings/{record.id}/resolution",
                data={"csrf_token": token, "confirm": "yes"})  # fmt: skip

    assert snapshot(session) == before


def test_the_grams_given_back_are_free_for_the_retirements_own_beneficiary(
    client, session, staff, finding, console_sign_in
):
    """The reversal gives the grams back to the very lot they came from, and the reversed part
    holds none of them: the programme draws on the same grams of its tonne again (on
    PostgreSQL past the EXCLUDE constraint, which ignores reversed parts)."""
    record, _ = finding
    enterprise, _ = staff
    _own_tonne(session, enterprise)
    console_sign_in("operator")
    _resolve(client, record.id)
    session.expire_all()
    programme = platform_organisation(session)

    offset = credits.allocate(
        session, key="offset:again", target_type="personal_offset", target_id="order:1",
        claimant_organisation_id=programme.id, quantity_g=1_000_000,
        retirement_ids=[record.retirement_id], now=datetime.now(UTC),
    )  # fmt: skip

    assert [(part.start_g, part.end_g) for part in offset.parts] == [(0, 1_000_000)]
    report = ledger_verify(session)
    assert report.ok, report.problems


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE credit_allocation_parts SET reversal_entry_id = NULL",
        "UPDATE credit_allocation_parts SET reversal_entry_id = reversal_entry_id + 1 "
        "WHERE reversal_entry_id IS NOT NULL",
        "UPDATE credit_allocation_parts SET reversal_entry_id = 1, claimant_organisation_id = "
        "NULL WHERE reversal_entry_id IS NULL",
        "UPDATE credit_allocation_parts SET reversal_entry_id = 1, start_g = start_g + 1 "
        "WHERE reversal_entry_id IS NULL",
        "DELETE FROM credit_allocation_parts",
    ],
)
def test_marking_a_part_reversed_once_is_the_only_change_a_part_takes(
    client, session, staff, finding, console_sign_in, statement
):
    record, _ = finding
    enterprise, _ = staff
    _own_tonne(session, enterprise)
    console_sign_in("operator")
    _resolve(client, record.id)

    with pytest.raises(sa.exc.DatabaseError, match="immutable"), session.begin_nested():
        session.execute(sa.text(statement))


def test_verify_fails_on_a_part_marked_reversed_by_an_entry_that_does_not_reverse_it(
    client, session, staff, finding, console_sign_in
):
    record, _ = finding
    enterprise, _ = staff
    _own_tonne(session, enterprise)
    console_sign_in("operator")
    _resolve(client, record.id)
    session.expire_all()
    new = session.get(CreditAllocation, session.get(CreditAllocationFinding, record.id)
                      .replacement_allocation_id)  # fmt: skip

    session.execute(
        sa.update(CreditAllocationPart)
        .where(CreditAllocationPart.allocation_id == new.id)
        .values(reversal_entry_id=new.entry_id)
    )

    report = ledger_verify(session)
    assert not report.ok
    assert any("does not reverse the allocation" in problem for problem in report.problems)


def test_a_personal_offset_is_re_allocated_from_the_programmes_own_retirement(
    client, session, staff, operator, programme_tonne, consumer_tokens, bearer, give,  # noqa: F811
    console_sign_in,
):  # fmt: skip
    """The 0017 example: a consumer's offset drew on a tonne whose record names an enterprise.
    Resolved, the order is backed by the programme's own tonne and its certificate says so."""
    enterprise, _ = staff
    item = stock(client, operator, OFFSET)
    alice = consumer_tokens()
    give(alice, 500)
    placed = place(client, bearer(alice), "off-1", item_id=item["id"], quantity=1).get_json()
    offset = session.get(RedemptionOrder, placed["id"])
    allocation = session.get(CreditAllocation, offset.allocation_id)
    retirement = session.scalars(
        sa.select(CreditRetirement).where(CreditRetirement.registry_reference == "R-OFFSETS")
    ).one()
    record = _misattributed(
        session, allocation, retirement, claimant_id=programme_tonne.id, beneficiary=enterprise
    )
    batch = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    credits.retire(
        session, registry_code="YRD-CI", registry_reference="R-PROGRAMME", purpose="个人碳抵消",
        beneficiary=programme_tonne.name, beneficiary_organisation_id=programme_tonne.id,
        retired_on=date(2026, 11, 2), lines=[credits.RetirementLine(batch, 1)],
        now=datetime.now(UTC),
    )  # fmt: skip
    session.flush()
    console_sign_in("operator")

    assert _resolve(client, record.id).status_code == 303

    session.expire_all()
    resolved = session.get(CreditAllocationFinding, record.id)
    assert session.get(RedemptionOrder, offset.id).allocation_id == (
        resolved.replacement_allocation_id
    )
    certificate = client.get(f"/api/v1/points/offsets/{offset.certificate_number}").get_json()
    assert [r["registry_reference"] for r in certificate["retirements"]] == ["R-PROGRAMME"]
    report = ledger_verify(session)
    assert report.ok, report.problems
    assert report.known == []
