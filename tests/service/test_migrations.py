"""Migrations are reversible and match the models, on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session

from ledger import credits
from ledger.credits import RetirementLine
from ledger.verify import ledger_verify
from service.app import create_app
from service.base.parties.models import Organisation
from service.db import create_engine, database
from service.migrations import alembic_command, scratch_database
from service.models import metadata
from tests.conftest import valid_uscc
from tests.ledger.credits.test_credits import example


@pytest.fixture()
def empty_database_url(backend, tmp_path):
    """An empty database of the backend under test, dropped afterwards."""
    if backend.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    with scratch_database(backend.database_url, "tanhui_migrations", migrate=False) as url:
        yield url


def _tables(url):
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database_url):
    alembic_command(empty_database_url, "upgrade", "head")
    assert _tables(empty_database_url) == set(metadata.tables)

    alembic_command(empty_database_url, "downgrade", "base")
    assert _tables(empty_database_url) == set()

    alembic_command(empty_database_url, "upgrade", "head")
    assert _tables(empty_database_url) == set(metadata.tables)


def test_migrations_match_the_models(empty_database_url):
    alembic_command(empty_database_url, "upgrade", "head")
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_a_sign_out_stored_as_logout_becomes_signed_out(empty_database_url):
    """Revision 0012 renames the API's old word for signing out, then checks the reasons; its
    downgrade keeps the one word."""
    alembic_command(empty_database_url, "upgrade", "0011")
    engine = create_engine(empty_database_url)
    revoked_at = datetime(2026, 11, 25, tzinfo=UTC)
    reasons = "SELECT id, revoked_reason FROM sign_in_sessions ORDER BY id"
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO users (id, display_name, failed_sign_in_count, is_active,"
                    " created_at, updated_at) VALUES (1, 'u', 0, true, :at, :at)"
                ),
                {"at": revoked_at},
            )
            for session_id, reason in (("a", "logout"), ("b", "signed_out"), ("c", None)):
                connection.execute(
                    sa.text(
                        "INSERT INTO sign_in_sessions (id, user_id, method, created_at,"
                        " expires_at, revoked_at, revoked_reason)"
                        " VALUES (:id, 1, 'wechat', :at, :at, :revoked_at, :reason)"
                    ),
                    {
                        "id": session_id,
                        "at": revoked_at,
                        "revoked_at": revoked_at if reason else None,
                        "reason": reason,
                    },
                )
        alembic_command(empty_database_url, "upgrade", "0012")
        with engine.connect() as connection:
            assert connection.execute(sa.text(reasons)).all() == [
                ("a", "signed_out"),
                ("b", "signed_out"),
                ("c", None),
            ]
        alembic_command(empty_database_url, "downgrade", "0011")
        with engine.connect() as connection:
            assert connection.execute(sa.text(reasons)).all()[0] == ("a", "signed_out")
    finally:
        engine.dispose()


def test_labels_made_before_markets_were_recorded_are_for_mainland_china(empty_database_url):
    """Revision 0020 adds the markets a label's product is sold in; the pilot's labels until
    then were for its home market, so each gets ``["CN"]``, and the column is NOT NULL after."""
    alembic_command(empty_database_url, "upgrade", "0016")
    engine = create_engine(empty_database_url)
    at = datetime(2026, 11, 25, tzinfo=UTC)
    try:
        tables = sa.MetaData()
        tables.reflect(engine, only=("organisations", "products", "footprints", "labels"))
        with engine.begin() as connection:
            connection.execute(
                tables.tables["organisations"].insert(),
                [
                    {
                        "id": 1,
                        "kind": "enterprise",
                        "name": "练塘大米",
                        "uscc": valid_uscc(1),
                        "status": "approved",
                        "created_at": at,
                        "updated_at": at,
                    }
                ],
            )
            connection.execute(
                tables.tables["products"].insert(),
                [
                    {
                        "id": 1,
                        "organisation_id": 1,
                        "gtin": "06901234567892",
                        "name": "香粳米",
                        "name_en": "",
                        "category": "milled_rice",
                        "declared_unit": "kg",
                        "net_content_g": 5000,
                        "created_at": at,
                        "updated_at": at,
                    }
                ],
            )
            connection.execute(
                tables.tables["footprints"].insert(),
                [
                    {
                        "id": 1,
                        "product_id": 1,
                        "method": "declared",
                        "kg_per_unit": "1.25",
                        "kg_per_kg": "1.25",
                        "low_kg_per_unit": "1.25",
                        "high_kg_per_unit": "1.25",
                        "declared_unit": "kg",
                        "boundary": "cradle_to_gate",
                        "gwp_set": "AR5",
                        "period_start": at.date(),
                        "period_end": at.date(),
                        "breakdown": {},
                        "data_quality": {},
                        "verifier": "",
                        "report": {},
                        "calculation": {},
                        "created_at": at,
                    }
                ],
            )
            connection.execute(tables.tables["labels"].insert(), [
                {"id": label_id, "product_id": 1, "footprint_id": 1, "scheme": scheme,
                 "status": "submitted", "reason": "", "created_at": at, "updated_at": at}
                for label_id, scheme in ((1, "carbon_neutral"), (2, "footprint"))])  # fmt: skip
        alembic_command(empty_database_url, "upgrade", "0020")
        labels = sa.Table("labels", sa.MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            rows = connection.execute(sa.select(labels.c.id, labels.c.markets).order_by("id"))
            assert [(row.id, row.markets) for row in rows] == [(1, ["CN"]), (2, ["CN"])]
        assert labels.c.markets.nullable is False
        alembic_command(empty_database_url, "downgrade", "0016")
        assert "markets" not in {
            column["name"] for column in sa.inspect(engine).get_columns("labels")
        }
    finally:
        engine.dispose()


def test_existing_allocations_are_re_expressed_to_the_gram(empty_database_url, tmp_path):
    """Revision 0018 gives the parts stored before it (a quantity per retired range) their
    offsets: per range, in allocation order, each starting where the one before stopped; ledger
    verify passes afterwards. The rows are made by the domain, then taken back to 0016's shape."""
    alembic_command(empty_database_url, "upgrade", "head")
    engine = create_engine(empty_database_url)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    parts = (
        "SELECT allocation_id, range_id, quantity_g, start_g, end_g "
        "FROM credit_allocation_parts ORDER BY id"
    )
    try:
        with Session(engine) as session:
            lianta = Organisation(
                kind="enterprise", name="青浦练塘大米有限公司", uscc=valid_uscc(1),
                region_code="310118", status="approved",
            )  # fmt: skip
            session.add(lianta)
            session.flush()
            credits.import_file(
                session, content=example("qingpu.json"), file_format="json", now=now
            )
            batch_id = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
            for reference, tonnes in (("R-1", 7), ("R-2", 5)):
                credits.retire(
                    session,
                    beneficiary_organisation_id=lianta.id,
                    registry_code="YRD-CI",
                    registry_reference=reference,
                    beneficiary="青浦练塘大米有限公司",
                    purpose="练塘大米碳中和标签",
                    retired_on=date(2026, 11, 1),
                    lines=[RetirementLine(batch_id, tonnes)],
                    now=now,
                )
            for key, grams in (("A", 6_250_000), ("B", 3_000_000), ("C", 500_000)):
                credits.allocate(
                    session,
                    claimant_organisation_id=lianta.id,
                    key=key,
                    target_type="label_lot",
                    target_id=key,
                    quantity_g=grams,
                    now=now,
                )
            session.commit()
        with engine.connect() as connection:
            expected = connection.execute(sa.text(parts)).all()
        # A 7 t range then a 5 t one: B takes the last 0.75 t of the first and 2.25 t of the next.
        assert [row[2:] for row in expected] == [
            (6_250_000, 0, 6_250_000),
            (750_000, 6_250_000, 7_000_000),
            (2_250_000, 0, 2_250_000),
            (500_000, 2_250_000, 2_750_000),
        ]

        alembic_command(empty_database_url, "downgrade", "0016")
        with engine.connect() as connection:
            columns = {
                c["name"] for c in sa.inspect(connection).get_columns("credit_allocation_parts")
            }
            assert "start_g" not in columns
        alembic_command(empty_database_url, "upgrade", "head")

        with engine.connect() as connection:
            assert connection.execute(sa.text(parts)).all() == expected
        with Session(engine) as session:
            result = ledger_verify(session)
            assert result.ok, result.problems
    finally:
        engine.dispose()


def test_lots_ordered_before_retire_on_payment_held_all_their_grams(empty_database_url):
    """Revision 0021 records the grams a lot's order held (``held_g``): every lot ordered before
    it held all it needed (an order its retired grams did not cover was refused), and lots may
    now wait ``retiring``."""
    alembic_command(empty_database_url, "upgrade", "0020")
    engine = create_engine(empty_database_url)
    at = datetime(2026, 11, 25, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            for statement, values in (
                ("INSERT INTO organisations (id, kind, name, uscc, status, created_at, updated_at)"
                 " VALUES (1, 'enterprise', '练塘大米', :uscc, 'approved', :at, :at)",
                 {"uscc": valid_uscc(1)}),
                ("INSERT INTO products (id, organisation_id, gtin, name, name_en, category,"
                 " declared_unit, net_content_g, created_at, updated_at) VALUES (1, 1,"
                 " '06901234567892', '香粳米', '', 'milled_rice', 'unit', 5000, :at, :at)", {}),
                ("INSERT INTO footprints (id, product_id, method, kg_per_unit, kg_per_kg,"
                 " low_kg_per_unit, high_kg_per_unit, declared_unit, boundary, gwp_set,"
                 " period_start, period_end, breakdown, data_quality, verifier, report,"
                 " calculation, created_at) VALUES (1, 1, 'declared', 6.25, 1.25, 6.25, 6.25,"
                 " 'unit', 'cradle_to_gate', 'AR5', :day, :day, '{}', '{}', '', '{}', '{}',"
                 " :at)", {"day": at.date()}),
                ("INSERT INTO labels (id, product_id, footprint_id, scheme, status, reason,"
                 " markets, created_at, updated_at) VALUES (1, 1, 1, 'carbon_neutral',"
                 " 'submitted', '', '[\"CN\"]', :at, :at)", {}),
                ("INSERT INTO label_lots (id, label_id, product_id, lot_number, units,"
                 " grams_per_unit, grams_required, price_per_tonne_fen, service_fee_fen,"
                 " amount_fen, status, key_id, created_at) VALUES (1, 1, 1, 'LT2026A', 1000,"
                 " 6250, 6250000, 8000, 20000, 70000, 'reserved', 'A', :at)", {}),
            ):  # fmt: skip
                connection.execute(sa.text(statement), {"at": at, **values})
        alembic_command(empty_database_url, "upgrade", "0021")
        lots = sa.Table("label_lots", sa.MetaData(), autoload_with=engine)
        assert lots.c.held_g.nullable is False
        with engine.begin() as connection:
            assert connection.execute(sa.select(lots.c.held_g)).scalar_one() == 6_250_000
            connection.execute(lots.update().values(status="retiring"))
        with engine.begin() as connection:
            connection.execute(lots.update().values(status="reserved"))
        alembic_command(empty_database_url, "downgrade", "0020")
        assert "held_g" not in {c["name"] for c in sa.inspect(engine).get_columns("label_lots")}
    finally:
        engine.dispose()


def test_an_upgraded_demo_database_verifies(empty_database_url, app_config):
    """The demo seeded, then taken back to the shape before the claimant rule and exact serials
    (revision 0016) and upgraded again: ``ledger verify`` passes on the upgraded database, with
    no finding (every demo claim draws on its own claimant's retirements)."""
    alembic_command(empty_database_url, "upgrade", "head")
    app = create_app({**app_config, "DATABASE_URL": empty_database_url})
    seeded = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert seeded.exit_code == 0, seeded.output
    database(app).engine.dispose()

    alembic_command(empty_database_url, "downgrade", "0016")
    alembic_command(empty_database_url, "upgrade", "head")

    engine = create_engine(empty_database_url)
    try:
        with Session(engine) as session:
            report = ledger_verify(session)
            assert report.ok, report.problems
            assert report.known == []
    finally:
        engine.dispose()
