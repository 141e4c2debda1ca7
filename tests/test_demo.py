"""The README's demo command serves the demo under gunicorn on a fresh instance folder."""

import pytest
import requests

from tests.live import DemoFailed, demo_server


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    instance = tmp_path_factory.mktemp("demo-instance")
    try:
        # Several tests sign in from this one address: more than a person's tries a minute.
        with demo_server(instance, {"RATELIMIT_SIGN_IN": "100 per minute"}) as base:
            yield base, instance
    except DemoFailed as failure:
        pytest.fail(str(failure))


def test_the_demo_prints_where_to_go_and_who_to_be(demo):
    _, instance = demo
    printed = (instance / "demo.log").read_text()
    for url in ("/healthz", "/readyz", "/api/openapi.json", "/metrics"):
        assert url in printed
    assert "operator / tanhui-demo-2026" in printed
    assert (instance / "tanhui.sqlite3").exists()


def test_the_demo_answers_under_gunicorn(demo):
    base, _ = demo
    assert requests.get(f"{base}/readyz", timeout=5).json()["checks"] == {
        "database": "ok",
        "redis": "not_configured",
    }
    signed_in = requests.post(
        f"{base}/api/v1/auth/password",
        timeout=10,
        json={"username": "operator", "password": "tanhui-demo-2026"},
    )
    assert signed_in.status_code == 200
    token = signed_in.json()["access_token"]
    organisations = requests.get(
        f"{base}/api/v1/organisations", timeout=5, headers={"Authorization": f"Bearer {token}"}
    )
    assert len(organisations.json()) == 8
    assert requests.get(f"{base}/api/openapi.json", timeout=5).json()["openapi"].startswith("3.")


def test_metrics_add_up_over_gunicorn_workers(demo):
    base, _ = demo
    for _ in range(20):
        requests.get(f"{base}/healthz", timeout=5)
    text = requests.get(f"{base}/metrics", timeout=5).text
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("tanhui_http_requests_total{") and 'endpoint="/healthz"' in line
    )
    assert counted >= 20


def test_every_demo_claim_draws_on_its_own_retirements_and_the_ledger_verifies(demo):
    """Issue 20: Lianta, Tongli and the personal-offset programme each have their own
    retirements; every demo allocation draws on its claimant's; the portal's totals are the sum
    of the allocations; ``ledger verify`` passes."""
    import sqlalchemy as sa  # noqa: PLC0415 - only this test reads the demo's database
    from sqlalchemy.orm import Session  # noqa: PLC0415 - as above

    from ledger.credits import selectors  # noqa: PLC0415 - as above
    from ledger.verify import ledger_verify  # noqa: PLC0415 - as above
    from service.db import create_engine  # noqa: PLC0415 - as above

    _, instance = demo
    engine = create_engine(f"sqlite:///{instance / 'tanhui.sqlite3'}")
    try:
        with Session(engine) as session:
            beneficiaries = session.execute(
                sa.text(
                    "SELECT o.kind, o.name FROM credit_retirements r "
                    "JOIN organisations o ON o.id = r.beneficiary_organisation_id ORDER BY r.id"
                )
            ).all()
            assert [kind for kind, _ in beneficiaries] == [
                "enterprise", "enterprise", "platform", "enterprise",
            ]  # fmt: skip
            assert "Lianta" in beneficiaries[0][1] and "Tongli" in beneficiaries[1][1]
            assert "YRD Select" in beneficiaries[3][1]
            strays = session.scalar(
                sa.text(
                    "SELECT count(*) FROM credit_allocation_parts p "
                    "JOIN credit_allocations a ON a.id = p.allocation_id "
                    "JOIN credit_retirements r ON r.id = p.retirement_id "
                    "WHERE a.claimant_organisation_id IS NULL "
                    "OR r.beneficiary_organisation_id <> a.claimant_organisation_id"
                )
            )
            assert strays == 0
            allocated = session.scalar(sa.text("SELECT sum(quantity_g) FROM credit_allocations"))
            assert selectors.registry_figures(session).allocated_g == allocated > 0
            report = ledger_verify(session)
            assert report.ok, report.problems
            assert report.known == []
    finally:
        engine.dispose()


def test_a_demo_lot_is_retired_on_payment_through_the_demo_registry(demo):
    """Issue 20, point 7: YRD Select's lot YS2026A, paid with nothing retired in its name, was
    retired through the registry the demo script started on loopback (its retirement id, not our
    reference, names it in our record; the request keeps our reference), then issued; the 0.4 t
    left over from the whole tonnes stay in the retailer's pool."""
    import sqlalchemy as sa  # noqa: PLC0415 - only these tests read the demo's database
    from sqlalchemy.orm import Session  # noqa: PLC0415 - as above

    from service.db import create_engine  # noqa: PLC0415 - as above

    _, instance = demo
    registry_url = (instance / "registry-url").read_text()
    assert registry_url.startswith("http://127.0.0.1:")
    assert f"registry {registry_url}: 1 retired" in (instance / "demo.log").read_text()
    engine = create_engine(f"sqlite:///{instance / 'tanhui.sqlite3'}")
    try:
        with Session(engine) as session:
            row = session.execute(
                sa.text(
                    "SELECT l.status, q.reference, q.status, r.registry_reference, r.quantity_t "
                    "FROM label_lots l JOIN lot_retirements q ON q.lot_id = l.id "
                    "JOIN credit_retirements r ON r.id = q.retirement_id "
                    "WHERE l.lot_number = 'YS2026A'"
                )
            ).one()
            status, reference, request_status, registry_reference, tonnes = row
            assert (status, request_status, tonnes) == ("issued", "retired", 2)
            assert reference.startswith("tanhui-lot-") and registry_reference.startswith("DEMO-R-")
    finally:
        engine.dispose()


def test_a_new_allocation_is_in_the_log_within_seconds_because_the_demo_runs_a_sequencer(demo):
    """Issue 21, point 3: a lot ordered and paid after start-up carries its allocation's proof
    within seconds, and the published checkpoint grows to cover it."""
    import time  # noqa: PLC0415 - only this test waits

    base, _ = demo

    def bearer(username):
        credentials = {"username": username, "password": "tanhui-demo-2026"}
        answer = requests.post(f"{base}/api/v1/auth/password", timeout=10, json=credentials)
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def size():
        return int(requests.get(f"{base}/log/checkpoint", timeout=5).text.split("\n")[1])

    before = size()
    lianta, operator = bearer("lianta"), bearer("operator")
    labels = requests.get(f"{base}/api/v1/labels", timeout=5, headers=lianta).json()
    label = next(item for item in labels if item["scheme"] == "carbon_neutral")
    wanted = {"label_id": label["id"], "lot_number": "LT2026Z", "units": 8}
    ordered = requests.post(f"{base}/api/v1/lots", timeout=10, headers=lianta, json=wanted)
    assert ordered.status_code == 201, ordered.text
    lot = ordered.json()
    transfer = {"reference": "DEMO-BANK-LATER", "amount_fen": lot["amount_fen"]}
    paid = requests.post(f"{base}/api/v1/lots/{lot['id']}/offline-payment", timeout=10,
                         headers=operator, json=transfer)  # fmt: skip
    assert paid.status_code == 200 and paid.json()["status"] == "issued", paid.text
    codes = requests.get(f"{base}/api/v1/lots/{lot['id']}/codes.csv", timeout=10, headers=lianta)
    unit = next(line.split(",")[-1] for line in codes.text.splitlines() if "/21/" in line)
    deadline = time.monotonic() + 10
    while True:
        record = requests.get(unit.strip(), timeout=5, headers={"Accept": "application/json"})
        proof = record.json()["backing"]["proof"]
        if proof is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert proof is not None, "the allocation never reached the log"
    assert proof["tree_size"] > before and size() >= proof["tree_size"]
    # The demo's witness cosigns what the sequencer signs.
    while True:
        published = requests.get(f"{base}/api/v1/log/checkpoint", timeout=5).json()
        if published["witnessed"] or time.monotonic() > deadline + 10:
            break
        time.sleep(0.2)
    assert published["witnessed"], published["witnesses"]
    assert [c["witness"] for c in published["cosignatures"]] == ["witness.demo.tanhui/w1"]
