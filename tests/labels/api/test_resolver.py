"""The resolver, worked through: a carbon-neutral lot is issued, and its printed codes are
scanned by phones (HTML), mini-programs (JSON, scene) and GS1 clients (linkset), genuine, forged,
unknown and revoked; the backing credits come with a proof that verifies offline."""

import base64
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from labels.codes import scene_for, serial_for
from labels.lots import lot_key_of
from labels.models import Label, LabelLot, Product
from ledger.tlog import LogError, log_sequence, proof_verify
from ledger.tlog.note import parse_signer_key
from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN
from tests.labels.conftest import order

JSON = {"Accept": "application/json"}


@pytest.fixture()
def issued(app, client, staff, certified, operator, session, retired_tonne):
    """An issued carbon-neutral lot of 100 bags; returns (lot, path of unit 7, key)."""
    _, headers = staff
    lot = order(client, headers, certified(), 100).get_json()
    paid = client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "ICBC-9", "amount_fen": lot["amount_fen"]},
    )
    assert paid.get_json()["status"] == "issued"
    row = session.get(LabelLot, lot["id"])
    key = lot_key_of(row, session.get(Product, row.product_id), app.config["UNIT_CODE_MASTER_KEYS"])
    return lot, f"/01/06901234567892/10/LT2026A/21/{serial_for(key, 7)}", key


def test_a_mini_program_gets_the_whole_record(client, issued):
    _, path, _ = issued
    body = client.get(path, headers=JSON).get_json()
    assert body["outcome"] == "genuine"
    assert body["product"]["gtin"] == "06901234567892"
    assert body["footprint"]["kg_per_unit"] == "6.25"
    assert body["label"]["scheme"] == "carbon_neutral" and body["label"]["status"] == "certified"
    assert body["unit"]["index"] == 7
    backing = body["backing"]
    assert (backing["grams_per_unit"], backing["grams_allocated"]) == (6_250, 625_000)
    (retirement,) = backing["retirements"]
    assert retirement["registry_reference"] == "R-LOTS"
    assert retirement["batches"][0]["vintage"] == 2024
    assert retirement["batches"][0]["methodology"].startswith("稻田间歇灌溉")
    assert len(retirement["batches"][0]["farms"]) == 4
    assert retirement["ranges"][0]["serial_start"] == 1_000_001
    assert body["scans"]["count"] == 1
    assert client.get(path, headers=JSON).get_json()["scans"]["count"] == 2


def test_a_phone_gets_a_page_in_chinese_or_english(client, issued):
    _, path, _ = issued
    page = client.get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "正品 · 标签有效" in text and "练塘香粳米 5kg" in text
    assert "抵消不是减排" in text and "R-LOTS" in text
    english = client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Genuine · label valid" in english.get_data(as_text=True)
    assert english.headers["Content-Language"] == "en"
    assert "Genuine" in client.get(path + "?lang=en").get_data(as_text=True)


def test_gs1_clients_get_a_linkset_or_a_redirect(client, issued, app):
    _, path, _ = issued
    linkset = client.get(path, query_string={"linkType": "all"})
    assert linkset.mimetype == "application/linkset+json"
    (links,) = linkset.get_json()["linkset"]
    anchor = app.config["PUBLIC_BASE_URL"] + path
    assert links["anchor"] == anchor
    assert links["https://gs1.org/voc/certificationInfo"][0]["href"] == anchor + "#certification"
    assert {"https://gs1.org/voc/pip", "https://gs1.org/voc/traceability"} <= set(links)
    one = client.get(path, query_string={"linkType": "gs1:sustainabilityInfo"})
    assert one.status_code == 307 and one.headers["Location"] == anchor + "#footprint"


def test_forged_and_unknown_codes_get_a_clear_answer(client, issued):
    _, path, _ = issued
    serial = path.rsplit("/", 1)[1]
    forged = path[: -len(serial)] + serial[:-1] + ("B" if serial[-1] == "A" else "A")
    page = client.get(forged)
    assert page.status_code == 404 and "此码无效" in page.get_data(as_text=True)
    assert client.get(forged, headers=JSON).get_json() == {"outcome": "forged"}
    unknown = "/01/06901234567892/10/NOPE/21/" + serial
    assert client.get(unknown, headers=JSON).status_code == 404
    assert "未找到此码" in client.get(unknown).get_data(as_text=True)
    assert client.get("/01/06901234567891/10/LT2026A/21/" + serial).status_code == 404
    for odd in ("/01/0690123456789/10/X/21/Y", "/01/06901234567892/10/LT2026A/21/" + "A" * 21):
        assert client.get(odd).status_code == 404


def test_revoked_units_and_suspended_labels_are_shown_prominently(
    client, issued, staff, certifier, session
):
    lot, path, key = issued
    _, headers = staff
    client.post(
        f"/api/v1/lots/{lot['id']}/revocations",
        headers=headers,
        json={"index_start": 7, "index_end": 7, "reason": "退货"},
    )
    assert client.get(path, headers=JSON).get_json()["outcome"] == "revoked"
    assert "已撤销" in client.get(path).get_data(as_text=True)
    other = path.rsplit("/", 1)[0] + "/" + serial_for(key, 8)
    label_id = session.get(LabelLot, lot["id"]).label_id
    client.post(
        f"/api/v1/labels/{label_id}/transitions",
        headers=certifier,
        json={"to_status": "suspended", "reason": "复核"},
    )
    assert client.get(other, headers=JSON).get_json()["label"]["status"] == "suspended"
    assert "已暂停" in client.get(other).get_data(as_text=True)


def test_many_or_far_apart_scans_warn(make_app, issued):
    client = make_app(RESOLVER_SCAN_WARNING_COUNT=2).test_client()
    _, path, _ = issued
    bodies = [
        client.get(path, headers=JSON, query_string={"region": region}).get_json()
        for region in ("310118", "310118", "330421")
    ]
    assert bodies[0]["warnings"] == [] and bodies[1]["warnings"] == []
    assert set(bodies[2]["warnings"]) == {"scanned_often", "scanned_far_apart"}
    assert bodies[2]["scans"]["provinces"] == ["31", "33"]


def test_a_mini_program_scene_resolves_to_the_same_record(client, issued):
    lot, path, _ = issued
    serial = path.rsplit("/", 1)[1]
    body = client.get("/api/v1/scan", query_string={"scene": scene_for(lot["id"], serial)})
    assert body.status_code == 200 and body.get_json()["unit"]["serial"] == serial
    assert client.get("/api/v1/scan", query_string={"scene": "ZZZZ.AAAA"}).status_code == 404


def test_the_lot_level_code(client, issued):
    body = client.get("/01/06901234567892/10/LT2026A", headers=JSON).get_json()
    assert body["outcome"] == "genuine" and body["unit"] is None


def test_the_backing_proof_verifies_offline_and_tampering_fails(client, issued, session):
    _, path, _ = issued
    assert client.get(path, headers=JSON).get_json()["backing"]["proof"] is None  # not sequenced
    signer = parse_signer_key(TEST_LOG_KEY)
    log_sequence(session, signer=signer, origin=TEST_LOG_ORIGIN, now=datetime.now(UTC))
    proof = client.get(path, headers=JSON).get_json()["backing"]["proof"]
    verified = proof_verify(proof, verifier=signer.verifier(), origin=TEST_LOG_ORIGIN)
    assert '"type":"credits.allocation"' in verified.data
    first = base64.b64decode(proof["inclusion_path"][0]) if proof["inclusion_path"] else b""
    tampered = [
        {**proof, "leaf_data": proof["leaf_data"].replace("625000", "625001")},
        {**proof, "leaf_index": proof["leaf_index"] + 1},
        {**proof, "checkpoint": proof["checkpoint"].replace("\n\n", "\n\n ", 1)},
    ]
    if first:
        flipped = base64.b64encode(bytes([first[0] ^ 1]) + first[1:]).decode()
        tampered.append({**proof, "inclusion_path": [flipped, *proof["inclusion_path"][1:]]})
    for bundle in tampered:
        with pytest.raises(LogError):
            proof_verify(bundle, verifier=signer.verifier(), origin=TEST_LOG_ORIGIN)


def test_resolution_is_rate_limited_per_client_beyond_normal_use(make_app, issued, app):
    assert app.config["RATELIMIT_RESOLVER"] == "240 per minute"
    client = make_app(RATELIMIT_RESOLVER="3 per minute").test_client()
    _, path, _ = issued
    answers = [client.get(path, headers=JSON).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    other = client.get(path, headers=JSON, environ_overrides={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_lot_data_is_cached_until_the_label_moves(client, issued, session, certifier):
    lot, path, _ = issued
    assert client.get(path, headers=JSON).get_json()["enterprise"]["name"] != "改名后的公司"
    row = session.get(LabelLot, lot["id"])
    enterprise_id = session.get(Product, row.product_id).organisation_id
    session.execute(
        sa.text("UPDATE organisations SET name = '改名后的公司' WHERE id = :id"),
        {"id": enterprise_id},
    )
    # Served from the cache: the rename is not seen yet (it would be within the TTL).
    assert client.get(path, headers=JSON).get_json()["enterprise"]["name"] != "改名后的公司"
    client.post(
        f"/api/v1/labels/{row.label_id}/transitions",
        headers=certifier,
        json={"to_status": "suspended", "reason": "复核"},
    )
    # Any certification move replaces the cached record: the next scan sees it all.
    body = client.get(path, headers=JSON).get_json()
    assert (body["label"]["status"], body["enterprise"]["name"]) == ("suspended", "改名后的公司")


def test_pages_carry_etags_and_cache_control(client, issued):
    _, path, _ = issued
    page = client.get(path)
    assert page.headers["Cache-Control"] == "private, no-cache" and page.headers["ETag"]
    linkset = client.get(path, query_string={"linkType": "all"})
    assert linkset.headers["Cache-Control"] == "public, max-age=300"
    again = client.get(
        path,
        query_string={"linkType": "all"},
        headers={"If-None-Match": linkset.headers["ETag"]},
    )
    assert again.status_code == 304


def test_in_production_scans_go_to_redis_and_are_flushed_in_batches(
    app, client, issued, session, backend
):
    if backend.profile != "production":
        result = app.test_cli_runner().invoke(args=["scans", "flush"])
        assert "writes scans at once" in result.output
        return
    _, path, key = issued
    for _ in range(3):
        client.get(path, headers=JSON, query_string={"region": "310118"})
    client.get(path.rsplit("/", 1)[0] + "/" + serial_for(key, 9), headers=JSON)
    count = sa.text("SELECT count(*) FROM unit_scans")
    assert session.scalar(count) == 0  # each scan appended an event; no count row was locked
    assert session.scalar(sa.text("SELECT count(*) FROM scan_events")) == 4
    result = app.test_cli_runner().invoke(args=["scans", "flush"])
    assert result.exit_code == 0 and "4 scans flushed" in result.output
    rows = dict(session.execute(sa.text("SELECT unit_index, scan_count FROM unit_scans")).all())
    assert rows == {7: 3, 9: 1}
    again = app.test_cli_runner().invoke(args=["scans", "flush"])
    assert "0 scans flushed" in again.output
    assert client.get(path, headers=JSON).get_json()["scans"]["count"] == 4


def test_a_scanned_proof_is_checked_offline_with_the_cli(app, client, issued, session, tmp_path):
    _, path, _ = issued
    signer = parse_signer_key(TEST_LOG_KEY)
    log_sequence(session, signer=signer, origin=TEST_LOG_ORIGIN, now=datetime.now(UTC))
    proof = client.get(path, headers=JSON).get_json()["backing"]["proof"]
    bundle = tmp_path / "proof.json"
    bundle.write_text(json.dumps(proof))
    # The server's own public key by default; anyone else passes --key (``tanhui log key``).
    arguments = ["log", "verify-proof", str(bundle), "--origin", TEST_LOG_ORIGIN]
    runner = app.test_cli_runner()
    assert runner.invoke(args=arguments).exit_code == 0
    bundle.write_text(json.dumps({**proof, "leaf_data": proof["leaf_data"] + " "}))
    assert runner.invoke(args=arguments).exit_code != 0


def test_a_certificate_past_its_validity_shows_expired_before_the_job_runs(client, issued, session):
    lot, path, _ = issued
    label = session.get(Label, session.get(LabelLot, lot["id"]).label_id)
    # The validity ends today; nothing has run to record it.
    label.valid_from, label.valid_until = date.today() - timedelta(days=30), date.today()
    label.updated_at = datetime.now(UTC)
    session.flush()
    assert client.get(path, headers=JSON).get_json()["label"]["status"] == "expired"
    assert "已过期" in client.get(path).get_data(as_text=True)


def test_a_signed_in_scanner_is_recorded(client, issued, consumer_tokens, bearer, session, app):
    _, path, _ = issued
    tokens = consumer_tokens()
    headers = {**JSON, **bearer(tokens)}
    assert client.get(path, headers=headers).status_code == 200
    user_id = client.get("/api/v1/me", headers=bearer(tokens)).get_json()["id"]
    app.test_cli_runner().invoke(args=["scans", "flush"])  # production keeps counts in Redis
    recorded = session.scalar(sa.text("SELECT last_user_id FROM unit_scans WHERE unit_index = 7"))
    assert recorded == user_id
    # A broken token does not stop the scan; it is counted without a user.
    broken = client.get(path, headers={**JSON, "Authorization": "Bearer nonsense"})
    assert broken.status_code == 200


def test_the_label_says_where_the_product_is_sold(client, issued):
    _, path, _ = issued
    assert client.get(path, headers=JSON).get_json()["label"]["markets"] == ["CN"]
    chinese = client.get(path + "?lang=zh-CN").get_data(as_text=True)
    assert "<dt>销售市场</dt><dd>中国大陆</dd>" in chinese
    english = client.get(path + "?lang=en").get_data(as_text=True)
    assert "<dt>Sold in</dt><dd>mainland China</dd>" in english


def test_the_page_and_json_name_the_exact_serials_the_lot_took(
    client, issued, staff, certified, operator, session
):
    """The 100 bags took 625,000 g of serial 1000001, and the next lot the 312,500 g after them:
    each page names its own grams, never the retirement's range."""
    _, path, _ = issued
    _, headers = staff
    second = order(client, headers, certified(), 50, lot_number="LT2026B").get_json()
    client.post(
        f"/api/v1/lots/{second['id']}/offline-payment",
        headers=operator,
        json={"reference": "ICBC-10", "amount_fen": second["amount_fen"]},
    )

    (first_range,) = client.get(path, headers=JSON).get_json()["backing"]["retirements"][0][
        "ranges"
    ]
    assert first_range == {
        "serial_start": 1_000_001,
        "serial_end": 1_000_001,
        "first_serial_g": 625_000,
        "last_serial_g": 625_000,
        "from_g": 0,
        "to_g": 625_000,
        "grams": 625_000,
    }
    assert "1000001 的 0.625 t" in client.get(path).get_data(as_text=True)
    assert "0.625 t of 1000001" in client.get(path + "?lang=en").get_data(as_text=True)

    row = session.get(LabelLot, second["id"])
    key = lot_key_of(
        row,
        session.get(Product, row.product_id),
        client.application.config["UNIT_CODE_MASTER_KEYS"],
    )
    second_path = f"/01/06901234567892/10/LT2026B/21/{serial_for(key, 1)}"
    (second_range,) = client.get(second_path, headers=JSON).get_json()["backing"]["retirements"][0][
        "ranges"
    ]
    assert (second_range["from_g"], second_range["to_g"]) == (625_000, 937_500)
    assert "1000001 的 0.3125 t" in client.get(second_path).get_data(as_text=True)
