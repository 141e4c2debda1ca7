"""On PostgreSQL a claim takes the statement of ``points.postgresql``: it writes the rows the
portable path (forced with ``ledger.paths.portable_path``) writes, refuses what the portable path
refuses, and a lot's remembered facts that no longer hold are read afresh."""

import contextlib
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from ledger import paths
from ledger.models import Entry, LogPending, Lot, Posting
from points import accounts, claims, errors, rules
from points import postgresql as claim_statements
from points.claims import unit_link_parts
from points.models import UnitClaim

#: One request's fingerprint (``points.idempotency``): these tests send each key once.
SAME = "0" * 64

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def postgresql_only(backend):
    if backend.name != "postgresql":
        pytest.skip("the one-statement claim is PostgreSQL's")


@pytest.fixture()
def claim_rule(session):
    """10 points a unit, at most 25 a day."""
    return rules.rule_publish(
        session,
        event_type="unit_claim",
        values={"formula": {"kind": "fixed", "points": 10}, "cap_per_day": 25,
                "validity_days": 365},
        user_id=None,
        now=NOW.replace(hour=0),
    )  # fmt: skip


def claim(session, app, user_id, uri, key, *, portable=False):
    """Claim a unit, on the portable path when asked (``ledger.paths.portable_path``)."""
    gtin, lot_number, serial = unit_link_parts(uri)
    with paths.portable_path(session) if portable else contextlib.nullcontext():
        return claims.claim_unit(
            session, user_id=user_id, gtin=gtin, lot_number=lot_number, serial=serial, key=key,
            request_sha256=SAME, master_keys=app.config["UNIT_CODE_MASTER_KEYS"], now=NOW,
        )  # fmt: skip


def rows_of(session, claim_ids, account):
    """What a user's claims wrote, with the user's own names taken out."""
    rows = []
    for claim_id in claim_ids:
        row = session.get(UnitClaim, claim_id)
        entry = session.get(Entry, row.entry_id) if row.entry_id else None
        written = {"points": row.points, "rule_id": row.rule_id, "region": row.region_code}
        if entry is not None:
            request = json.loads(json.dumps(entry.request).replace(account, "ACCOUNT"))
            request["metadata"].pop("unit_index")
            postings = session.execute(
                sa.select(Posting.asset, Posting.amount)
                .where(Posting.entry_id == entry.id)
                .order_by(Posting.id)
            ).all()
            leaf = json.loads(
                session.scalar(
                    sa.select(LogPending.data).where(
                        LogPending.kind == "ledger.entry", LogPending.source_id == str(entry.id)
                    )
                )
            )
            assert (leaf.pop("id"), leaf.pop("key")) == (entry.id, f"claim:{claim_id}")
            leaf["postings"] = json.loads(json.dumps(leaf["postings"]).replace(account, "ACCOUNT"))
            lot = session.execute(
                sa.select(Lot.amount_initial, Lot.remaining, Lot.expires_at, Lot.provenance)
                .where(Lot.entry_id == entry.id)
            ).one()  # fmt: skip
            written.update(
                kind=entry.kind, request=request, postings=[tuple(p) for p in postings],
                leaf=leaf, lot=tuple(lot),
            )  # fmt: skip
        rows.append(written)
    return rows


def test_both_paths_write_the_same_rows_up_to_the_cap(
    session, app, lot_codes, claim_rule, consumer_tokens
):
    alice, bob = (consumer_tokens()["user"]["id"] for _ in range(2))
    fast = [claim(session, app, alice, lot_codes(i), f"a{i}") for i in range(4)]
    slow = [claim(session, app, bob, lot_codes(10 + i), f"b{i}", portable=True) for i in range(4)]
    for results in (fast, slow):
        assert [(r.claim.points, r.capped_by) for r in results] == [
            (10, None), (10, None), (5, "cap_per_day"), (0, "cap_per_day")
        ]  # fmt: skip
    assert rows_of(session, [r.claim.id for r in fast], f"user:{alice}:points") == rows_of(
        session, [r.claim.id for r in slow], f"user:{bob}:points"
    )
    assert [r.claim.entry_id is None for r in fast] == [False, False, False, True]


def test_the_one_statement_refuses_what_the_portable_path_refuses(
    session, app, lot_codes, claim_rule, consumer_tokens, staff, client
):
    alice, bob = (consumer_tokens()["user"]["id"] for _ in range(2))
    first = claim(session, app, alice, lot_codes(0), "same-key")
    assert claim(session, app, alice, lot_codes(0), "same-key").claim == first.claim
    with pytest.raises(errors.PointsError) as error:
        claim(session, app, alice, lot_codes(1), "same-key")  # the key, for another unit
    assert error.value.code == "idempotency_conflict"
    with pytest.raises(errors.PointsError) as error:
        claim(session, app, bob, lot_codes(0), "bob")
    assert error.value.code == "unit_already_claimed"
    genuine = lot_codes(2)
    forged = genuine[:-1] + ("B" if genuine[-1] == "A" else "A")
    with pytest.raises(errors.PointsError) as error:
        claim(session, app, bob, forged, "forged")
    assert (error.value.code, error.value.fields) == (
        "claim_code_invalid",
        {"code": ["Not a genuine code."]},
    )
    _, headers = staff
    client.post(
        f"/api/v1/lots/{lot_codes.lot['id']}/revocations",
        headers=headers,
        json={"index_start": 2, "index_end": 2, "reason": "退货"},
    )
    with pytest.raises(errors.PointsError) as error:
        claim(session, app, bob, genuine, "revoked")
    assert error.value.code == "claim_code_revoked"
    assert session.scalar(sa.select(sa.func.count()).select_from(UnitClaim)) == 1


def test_remembered_facts_that_no_longer_hold_are_read_again(
    session, app, lot_codes, claim_rule, consumer_tokens
):
    alice = consumer_tokens()["user"]["id"]
    gtin, lot_number, _ = unit_link_parts(lot_codes(0))
    real, remembered = claim_statements.lot_facts(session, gtin, lot_number, fresh=True)
    assert (real.units, remembered) == (100, False)
    # A process that remembers another size for this lot (a database restored under it):
    # the serial does not verify against it, so the facts are read again and the claim pays.
    claim_statements._lot_facts[(gtin, lot_number)] = claim_statements.LotFacts(real.key_id, 1000)
    assert claim(session, app, alice, lot_codes(0), "k0").claim.points == 10
    assert claim_statements.lot_facts(session, gtin, lot_number) == (real, True)
    # The statement itself inserts nothing for facts that are not the lot's.
    stale = claim_statements.claim_take(
        session, gtin=gtin, lot_number=lot_number,
        facts=claim_statements.LotFacts(real.key_id, 1000), index=1, user_id=alice, key="k1",
        request_sha256=SAME, region_code=None, account=f"user:{alice}:points",
        issuer=accounts.ISSUER_ACCOUNT,
        kind="points_unit_claim", day=NOW, month=NOW, now=NOW,
    )  # fmt: skip
    assert stale.lot_id is None
    assert session.scalar(sa.select(sa.func.count()).select_from(UnitClaim)) == 1
