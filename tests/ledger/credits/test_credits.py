"""Sink credits, worked through: the pilot areas' example files are imported, some tonnes retired,
and retired grams allocated to a label lot; every refusal leaves nothing behind."""

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import credits
from ledger import entries as ledger
from ledger.credits import RetirementLine
from ledger.credits.models import (
    CreditAllocation,
    CreditBatch,
    CreditBatchShare,
    CreditFarm,
    CreditImport,
    CreditProject,
    CreditRetirement,
    CreditSerialRange,
)
from ledger.errors import CreditError, ErrorCode, Outcome
from ledger.models import LogPending, Lot

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"
T = 1_000_000  # grams per tonne


def example(name):
    return (EXAMPLES / name).read_bytes()


@pytest.fixture()
def do_import(session, now):
    def run(content, file_format="json", **kwargs):
        if isinstance(content, dict):
            content = json.dumps(content, ensure_ascii=False).encode()
        return credits.import_file(
            session, content=content, file_format=file_format, now=now, **kwargs
        )

    return run


@pytest.fixture()
def qingpu(do_import):
    do_import(example("qingpu.json"))


def count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def batch_at(session, serial_start):
    return session.scalars(
        sa.select(CreditBatch).where(CreditBatch.serial_start == serial_start)
    ).one()


def ranges_of(session, batch):
    return [
        (r.serial_start, r.serial_end, r.status)
        for r in session.scalars(
            sa.select(CreditSerialRange)
            .where(CreditSerialRange.batch_id == batch.id)
            .order_by(CreditSerialRange.serial_start)
        )
    ]


def qingpu_document():
    return json.loads(example("qingpu.json"))


# -- import ---------------------------------------------------------------------------------------
def test_the_qingpu_file_becomes_projects_farms_batches_and_inventory_lots(session, do_import):
    result = do_import(example("qingpu.json"), filename="qingpu.json")

    assert (result.outcome, result.batches_created, result.batches_unchanged) == (
        Outcome.CREATED,
        2,
        0,
    )
    project = session.scalars(sa.select(CreditProject)).one()
    assert (project.external_id, project.region_code) == ("YRDCI-QP-2023-001", "310118")
    assert count(session, CreditFarm) == 4
    older = batch_at(session, 1_000_001)
    assert (older.vintage, older.quantity_t, older.serial_end) == (2024, 1850, 1_001_850)
    shares = dict(
        session.execute(
            sa.select(CreditFarm.code, CreditBatchShare.share_ppm)
            .join(CreditFarm, CreditFarm.id == CreditBatchShare.farm_id)
            .where(CreditBatchShare.batch_id == older.id)
        ).all()
    )
    # 31.5 % is 315,000 parts per million; the four shares make exactly one million.
    assert shares == {
        "QP-LT-01": 315_000,
        "QP-LT-02": 272_500,
        "QP-JX-03": 227_500,
        "QP-ZJ-04": 185_000,
    }
    # Every gram sits in the inventory, in a lot that names its batch's serials.
    assert ledger.balance_of(session, credits.INVENTORY_ACCOUNT).balance == (1850 + 1710) * T
    lot = session.get(Lot, older.lot_id)
    assert (lot.remaining, lot.provenance["serial_start"], lot.provenance["vintage"]) == (
        1850 * T,
        1_000_001,
        2024,
    )
    assert ranges_of(session, older) == [(1_000_001, 1_001_850, "available")]
    assert session.scalars(
        sa.select(LogPending.kind).where(LogPending.kind == "credits.import")
    ).all() == ["credits.import"]


def test_the_wujiang_csv_file_imports_too(session, do_import):
    result = do_import(example("wujiang.csv"), "csv")

    assert result.batches_created == 2
    assert count(session, CreditFarm) == 5
    batch = batch_at(session, 2_000_001)
    assert (batch.quantity_t, batch.vintage) == (1420, 2024)
    shares = session.scalars(
        sa.select(CreditBatchShare.share_ppm).where(CreditBatchShare.batch_id == batch.id)
    ).all()
    assert sum(shares) == 1_000_000


def test_importing_the_same_file_again_changes_nothing(session, do_import):
    first = do_import(example("qingpu.json"))
    again = do_import(example("qingpu.json"))
    assert (again.outcome, again.import_id) == (Outcome.EXISTS, first.import_id)

    # The same batches in other bytes (re-serialised) change nothing either.
    same = do_import(qingpu_document())
    assert (same.outcome, same.import_id, same.batches_unchanged) == (Outcome.EXISTS, None, 2)
    assert (count(session, CreditImport), count(session, CreditBatch)) == (1, 2)
    assert ledger.balance_of(session, credits.INVENTORY_ACCOUNT).balance == 3560 * T


def test_a_later_file_adds_only_its_new_batches(session, do_import, qingpu):
    document = qingpu_document()
    document["projects"][0]["batches"].append(
        {
            "vintage": 2026,
            "serial_start": 1_003_561,
            "serial_end": 1_003_600,
            "quantity_t": 40,
            "shares": {"QP-LT-01": "100"},
        }
    )
    result = do_import(document)
    assert (result.outcome, result.batches_created, result.batches_unchanged) == (
        Outcome.CREATED,
        1,
        2,
    )
    assert count(session, CreditProject) == 1


def _bad_batch(**changes):
    document = qingpu_document()
    document["projects"][0]["batches"][0].update(changes)
    return document


def _repeated_batch():
    document = qingpu_document()
    batches = document["projects"][0]["batches"]
    batches.append(dict(batches[0]))
    return document


REJECTED = [
    # (what is wrong, document, expected (row, field, words in the reason))
    (
        "a batch repeated within the file",
        _repeated_batch(),
        ("projects[0].batches[2]", "serial_start", "repeats serials 1000001–1001850"),
    ),
    (
        "serials overlap within the file",
        _bad_batch(serial_start=1_001_800, serial_end=1_001_900, quantity_t=101),
        ("projects[0].batches[1]", "serial_start", "overlaps serials 1001800–1001900"),
    ),
    (
        "unknown region code",
        {
            **qingpu_document(),
            "projects": [{**qingpu_document()["projects"][0], "region_code": "310199"}],
        },
        ("projects[0]", "region_code", "unknown GB/T 2260 region code"),
    ),
    (
        "shares do not add up",
        _bad_batch(shares={"QP-LT-01": "50", "QP-LT-02": "49.5"}),
        ("projects[0].batches[0]", "shares", "add up to 99.5%, not 100%"),
    ),
    (
        "future vintage",
        _bad_batch(vintage=2027),
        ("projects[0].batches[0]", "vintage", "in the future (after 2026)"),
    ),
    (
        "malformed number",
        _bad_batch(serial_end="1001850a"),
        ("projects[0].batches[0]", "serial_end", "not a whole number"),
    ),
    (
        "fractional tonnes",
        _bad_batch(quantity_t=1849.5),
        ("projects[0].batches[0]", "quantity_t", "not a whole number"),
    ),
    (
        "tonnes that do not match the serials",
        _bad_batch(quantity_t=1849),
        ("projects[0].batches[0]", "quantity_t", "the serial range holds 1850 tonnes"),
    ),
    (
        "share of a farm the project lacks",
        _bad_batch(shares={"QP-LT-01": "50", "QP-XX-99": "50"}),
        ("projects[0].batches[0]", "shares.QP-XX-99", "not a farm of this project"),
    ),
    (
        "a share with too many decimals",
        _bad_batch(shares={"QP-LT-01": "50.00001", "QP-LT-02": "49.99999"}),
        ("projects[0].batches[0]", "shares.QP-LT-01", "at most four decimals"),
    ),
]


@pytest.mark.parametrize(
    ("document", "expected"), [case[1:] for case in REJECTED], ids=[case[0] for case in REJECTED]
)
def test_a_rejected_file_names_the_row_and_field_and_imports_nothing(
    session, do_import, document, expected
):
    with pytest.raises(CreditError) as error:
        do_import(document)

    assert error.value.error_code is ErrorCode.CREDIT_IMPORT_REJECTED
    row, field, words = expected
    assert any(
        (p.row, p.field) == (row, field) and words in p.reason for p in error.value.problems
    ), error.value.problems
    assert f"{row}.{field}" in error.value.fields
    assert (count(session, CreditImport), count(session, CreditBatch)) == (0, 0)
    assert count(session, CreditProject) == 0


def test_every_bad_row_of_a_csv_file_is_reported(session, do_import):
    lines = example("wujiang.csv").decode().splitlines()
    header, rows = lines[0], lines[1:]
    rows[0] = rows[0].replace(",320509,", ",999999,")  # line 2: unknown region
    rows[3] = rows[3].replace(",2024,2000001,", ",2031,2000001,")  # line 5: future, and disagrees
    rows[6] = rows[6].rsplit(",", 1)[0] + ",abc"  # line 8: not a percentage
    with pytest.raises(CreditError) as error:
        do_import("\n".join([header, *rows]).encode(), "csv")

    found = {(p.row, p.field) for p in error.value.problems}
    assert ("line 2", "region_code") in found
    assert ("line 5", "vintage") in found
    assert ("line 8", "share_percent") in found
    assert count(session, CreditBatch) == 0


def test_a_batch_that_overlaps_a_stored_one_is_refused(session, do_import, qingpu):
    document = json.loads(example("jiashan.json"))
    document["projects"][0]["batches"][0].update(
        serial_start=1_001_801, serial_end=1_002_760, quantity_t=960
    )
    with pytest.raises(CreditError) as error:
        do_import(document)

    reasons = [p.reason for p in error.value.problems]
    assert any("overlaps stored batch" in reason for reason in reasons)
    assert count(session, CreditBatch) == 2


def test_the_same_serials_with_other_terms_are_refused(session, do_import, qingpu):
    document = _bad_batch(vintage=2023)
    with pytest.raises(CreditError) as error:
        do_import(document)
    assert "repeats with other terms" in error.value.problems[0].reason


def test_a_file_that_is_not_what_it_says_is_refused(session, do_import):
    for content, file_format in [
        (b"{not json", "json"),
        (b"\xff\xfe", "csv"),
        (b"a,b\n1,2", "csv"),
    ]:
        with pytest.raises(CreditError):
            do_import(content, file_format)
    assert count(session, CreditImport) == 0


# -- retirement -----------------------------------------------------------------------------------
@pytest.fixture()
def retire(session, now, claimant):
    def run(reference, *lines, **overrides):
        arguments = {
            "registry_code": "YRD-CI",
            "registry_reference": reference,
            "beneficiary": "上海某米业有限公司",
            "beneficiary_organisation_id": claimant.id,
            "purpose": "碳中和大米标签 2026 年第一批",
            "retired_on": date(2026, 11, 20),
            "lines": [RetirementLine(batch_id, tonnes) for batch_id, tonnes in lines],
            "now": now,
        }
        return credits.retire(session, **{**arguments, **overrides})

    return run


def test_a_retirement_splits_the_serial_range_exactly(claimant, session, qingpu, retire):
    older = batch_at(session, 1_000_001)
    result = retire("YRDCI-R-2026-0001", (older.id, 100))

    assert result.outcome is Outcome.CREATED
    assert ranges_of(session, older) == [
        (1_000_001, 1_000_100, "retired"),
        (1_000_101, 1_001_850, "available"),
    ]
    assert ledger.balance_of(session, credits.retired_account(claimant.id)).balance == 100 * T
    assert session.get(Lot, older.lot_id).remaining == 1750 * T
    # The next retirement takes the next serials.
    retire("YRDCI-R-2026-0002", (older.id, 1750))
    assert ranges_of(session, older) == [
        (1_000_001, 1_000_100, "retired"),
        (1_000_101, 1_001_850, "retired"),
    ]


def test_one_retirement_may_draw_on_several_batches(session, qingpu, retire):
    older, newer = batch_at(session, 1_000_001), batch_at(session, 1_001_851)
    result = retire("YRDCI-R-2026-0003", (older.id, 10), (newer.id, 5))

    assert result.retirement.quantity_t == 15
    assert ranges_of(session, newer)[0] == (1_001_851, 1_001_855, "retired")
    lots = session.scalars(
        sa.select(Lot.provenance).join(CreditSerialRange, CreditSerialRange.lot_id == Lot.id)
    ).all()
    assert sorted((p["serial_start"], p["serial_end"]) for p in lots) == [
        (1_000_001, 1_000_010),
        (1_001_851, 1_001_855),
    ]


def test_no_serial_is_retired_twice(session, qingpu, retire):
    older = batch_at(session, 1_000_001)
    retire("YRDCI-R-2026-0004", (older.id, 1850))
    with pytest.raises(CreditError) as error:
        retire("YRDCI-R-2026-0005", (older.id, 1))

    assert error.value.error_code is ErrorCode.CREDITS_INSUFFICIENT
    assert count(session, CreditRetirement) == 1


def test_a_retirement_beyond_what_is_available_writes_nothing(session, qingpu, retire):
    older, newer = batch_at(session, 1_000_001), batch_at(session, 1_001_851)
    with pytest.raises(CreditError):
        retire("YRDCI-R-2026-0006", (newer.id, 10), (older.id, 1851))
    assert count(session, CreditRetirement) == 0
    assert ranges_of(session, newer) == [(1_001_851, 1_003_560, "available")]


def test_repeating_a_retirement_reference(claimant, session, qingpu, retire):
    older = batch_at(session, 1_000_001)
    first = retire("YRDCI-R-2026-0007", (older.id, 20))
    again = retire("YRDCI-R-2026-0007", (older.id, 20))
    assert (again.outcome, again.retirement.id) == (Outcome.EXISTS, first.retirement.id)

    with pytest.raises(CreditError) as error:
        retire("YRDCI-R-2026-0007", (older.id, 21))
    assert (error.value.error_code, "lines" in error.value.fields) == (
        ErrorCode.IDEMPOTENCY_CONFLICT,
        True,
    )
    assert ledger.balance_of(session, credits.retired_account(claimant.id)).balance == 20 * T


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"beneficiary": " "}, "beneficiary"),
        ({"purpose": "x" * 501}, "purpose"),
        ({"retired_on": date(2026, 11, 25)}, "retired_on"),
        ({"lines": []}, "lines"),
        ({"lines": [RetirementLine(1, 0)]}, "quantity_t"),
        ({"lines": [RetirementLine(999, 1)]}, "batch_id"),
    ],
)
def test_a_malformed_retirement_names_its_field(session, qingpu, retire, overrides, field):
    with pytest.raises(CreditError) as error:
        retire("YRDCI-R-2026-0008", **overrides)
    assert field in error.value.fields
    assert count(session, CreditRetirement) == 0


# -- allocation -----------------------------------------------------------------------------------
@pytest.fixture()
def retired(session, do_import, retire):
    """Both pilot files imported; 100 t of Qingpu 2025 then 50 t of Jiashan 2024 retired."""
    do_import(example("qingpu.json"))
    do_import(example("jiashan.json"))
    first = retire("R-1", (batch_at(session, 1_001_851).id, 100)).retirement
    second = retire("R-2", (batch_at(session, 3_000_001).id, 50)).retirement
    return first, second


def test_allocation_takes_the_oldest_vintage_first(claimant, session, now, retired):
    qingpu_2025, jiashan_2024 = retired
    result = credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="lot-A",
        target_type="label_lot",
        target_id="A-2026-001",
        quantity_g=60 * T,
        now=now,
    )

    # Jiashan's 2024 tonnes go first, then Qingpu's 2025: 50 t + 10 t.
    assert [(p.retirement_id, p.quantity_g) for p in result.parts] == [
        (jiashan_2024.id, 50 * T),
        (qingpu_2025.id, 10 * T),
    ]
    assert result.parts[0].serial_start == 3_000_001
    assert ledger.balance_of(session, credits.ALLOCATED_ACCOUNT).balance == 60 * T
    assert ledger.balance_of(session, credits.retired_account(claimant.id)).balance == 90 * T


def test_allocation_from_named_retirements(claimant, session, now, retired):
    qingpu_2025, _ = retired
    result = credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="offset-1",
        target_type="personal_offset",
        target_id="user-7",
        quantity_g=1_234,
        now=now,
        retirement_ids=[qingpu_2025.id],
    )
    assert [(p.retirement_id, p.quantity_g) for p in result.parts] == [(qingpu_2025.id, 1_234)]


def test_allocation_never_exceeds_what_was_retired(claimant, session, now, retired):
    credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="a",
        target_type="label_lot",
        target_id="A",
        quantity_g=150 * T - 1,
        now=now,
    )
    with pytest.raises(CreditError) as error:
        credits.allocate(
            session,
            claimant_organisation_id=claimant.id,
            key="b",
            target_type="label_lot",
            target_id="B",
            quantity_g=2,
            now=now,
        )
    assert error.value.error_code is ErrorCode.CREDITS_INSUFFICIENT
    assert count(session, CreditAllocation) == 1
    last = credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="c",
        target_type="label_lot",
        target_id="C",
        quantity_g=1,
        now=now,
    )
    assert last.quantity_g == 1
    assert ledger.balance_of(session, credits.retired_account(claimant.id)).balance == 0


def test_repeating_an_allocation_key(claimant, session, now, retired):
    arguments = {"key": "k", "target_type": "label_lot", "target_id": "A", "now": now}
    first = credits.allocate(
        session, claimant_organisation_id=claimant.id, quantity_g=7, **arguments
    )
    again = credits.allocate(
        session, claimant_organisation_id=claimant.id, quantity_g=7, **arguments
    )
    assert (again.outcome, again.allocation_id, again.parts) == (
        Outcome.EXISTS,
        first.allocation_id,
        first.parts,
    )
    with pytest.raises(CreditError) as error:
        credits.allocate(session, claimant_organisation_id=claimant.id, quantity_g=8, **arguments)
    assert error.value.error_code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert "quantity_g" in error.value.fields


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target_type": "unit"}, "target_type"),
        ({"target_id": ""}, "target_id"),
        ({"quantity_g": 0}, "quantity_g"),
        ({"quantity_g": 1.5}, "quantity_g"),
        ({"retirement_ids": [1, 1]}, "retirement_ids"),
        ({"retirement_ids": [999]}, "retirement_ids"),
    ],
)
def test_a_malformed_allocation_names_its_field(claimant, session, now, retired, overrides, field):
    arguments = {
        "key": "bad",
        "target_type": "label_lot",
        "target_id": "A",
        "quantity_g": 5,
        "now": now,
    }
    with pytest.raises(CreditError) as error:
        credits.allocate(
            session, claimant_organisation_id=claimant.id, **{**arguments, **overrides}
        )
    assert field in error.value.fields
    assert count(session, CreditAllocation) == 0


def test_what_backs_a_target(claimant, session, now, retired):
    credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="x",
        target_type="label_lot",
        target_id="L1",
        quantity_g=3 * T,
        now=now,
    )
    backing = credits.allocations_of(session, "label_lot", "L1")
    assert [b["quantity_g"] for b in backing] == [3 * T]
    assert backing[0]["parts"][0].serial_start == 3_000_001


def test_imports_retirements_and_allocations_become_log_leaves(
    claimant, session, now, retired, signer, origin
):
    from ledger.tlog import leaf_proof, log_sequence, proof_verify

    allocation = credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="log",
        target_type="label_lot",
        target_id="L9",
        quantity_g=5,
        now=now,
    )
    log_sequence(session, signer=signer, origin=origin, now=now)
    kinds = session.scalars(sa.text("SELECT kind FROM tlog_leaves WHERE kind LIKE 'credits.%'"))
    assert sorted(set(kinds)) == ["credits.allocation", "credits.import", "credits.retirement"]
    bundle = leaf_proof(session, kind="credits.allocation", source_id=str(allocation.allocation_id))
    assert json.loads(bundle["leaf_data"])["parts"] == [
        {
            "retirement_id": allocation.parts[0].retirement_id,
            "serial_start": 3_000_001,
            "serial_end": 3_000_001,
            "from_g": 0,
            "to_g": 5,
            "quantity_g": 5,
        }
    ]
    proof_verify(bundle, verifier=signer.verifier(), origin=origin)


# -- the claimant rule ----------------------------------------------------------------------------
def test_a_retirement_must_name_its_beneficiary_organisation(session, qingpu, retire, claimant):
    older = batch_at(session, 1_000_001)
    with pytest.raises(CreditError) as error:
        retire("R-NAME", (older.id, 1), beneficiary="吴江同里米业有限公司")
    assert error.value.error_code is ErrorCode.CREDIT_RETIREMENT_INVALID
    assert "beneficiary" in error.value.fields
    with pytest.raises(CreditError) as error:
        retire("R-NONE", (older.id, 1), beneficiary_organisation_id=999_999)
    assert "beneficiary_organisation_id" in error.value.fields
    retired = retire("R-OK", (older.id, 1)).retirement
    assert retired.beneficiary_organisation_id == claimant.id
    assert ledger.balance_of(session, credits.retired_account(claimant.id)).balance == T


def test_an_allocation_draws_only_on_its_claimants_retirements(
    session, now, retired, make_organisation
):
    """Issue 20: a lot of one company backed by another's retirement. Another claimant finds
    nothing to draw on, by FIFO or by naming the retirement."""
    other = make_organisation("enterprise")
    arguments = {"target_type": "label_lot", "quantity_g": 1, "now": now}
    with pytest.raises(CreditError) as error:
        credits.allocate(
            session, key="x", target_id="X", claimant_organisation_id=other.id, **arguments
        )
    assert error.value.error_code is ErrorCode.CREDITS_INSUFFICIENT
    with pytest.raises(CreditError) as error:
        credits.allocate(
            session, key="y", target_id="Y", claimant_organisation_id=other.id,
            retirement_ids=[retired[0].id], **arguments,
        )  # fmt: skip
    assert error.value.error_code is ErrorCode.CREDIT_ALLOCATION_INVALID
    assert "retirement_ids" in error.value.fields
    assert count(session, CreditAllocation) == 0


def test_a_repeated_key_with_another_claimant_is_a_conflict(
    session, now, retired, claimant, make_organisation
):
    arguments = {"key": "k", "target_type": "label_lot", "target_id": "A", "quantity_g": 7}
    credits.allocate(session, claimant_organisation_id=claimant.id, now=now, **arguments)
    other = make_organisation("enterprise")
    with pytest.raises(CreditError) as error:
        credits.allocate(session, claimant_organisation_id=other.id, now=now, **arguments)
    assert error.value.error_code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert "claimant_organisation_id" in error.value.fields
