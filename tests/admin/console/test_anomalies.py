"""Anomalies: suspicious claims and codes scanned too often or far apart."""


def test_suspicious_claims_are_closed_by_an_operator(
    client, console_sign_in, csrf, session, consumer_tokens
):
    from datetime import timedelta

    from points.models import PointFlag
    from service.db import utcnow

    user_id = consumer_tokens()["user"]["id"]
    flag = PointFlag(kind="claims_burst", user_id=user_id, details={"claims": 12},
                     window_start=utcnow() - timedelta(hours=1))  # fmt: skip
    session.add(flag)
    session.commit()
    console_sign_in("operator")
    page = client.get("/admin/anomalies?view=claims&status=open").get_data(as_text=True)
    assert "短时间大量领取" in page
    assert client.get("/admin/anomalies").status_code == 200  # the codes view, empty
    client.post(
        f"/admin/anomalies/flags/{flag.id}",
        data={"status": "dismissed", "note": "家庭共用手机", "csrf_token": csrf()},
    )
    session.expire_all()
    closed = session.get(PointFlag, flag.id)
    assert (closed.status, closed.resolution_note) == ("dismissed", "家庭共用手机")


def test_codes_scanned_too_often_or_far_apart_are_listed(
    client, console_sign_in, session, certified, app
):
    """Unit 3 scanned 25 times, unit 4 from two provinces, unit 5 twice from one: the first two
    are suspicious."""
    from datetime import timedelta

    from labels.models import LabelLot, UnitScan
    from service.db import utcnow

    label = certified()
    now = utcnow()
    lot = LabelLot(label_id=label["id"], product_id=label["product_id"], lot_number="SUSP1",
                   units=10, grams_per_unit=0, grams_required=0, price_per_tonne_fen=0,
                   service_fee_fen=0, amount_fen=0, status="issued", key_id="A",
                   created_at=now)  # fmt: skip
    session.add(lot)
    session.flush()
    for index, count, provinces in ((3, 25, ["31"]), (4, 2, ["31", "44"]), (5, 2, ["31"])):
        session.add(UnitScan(lot_id=lot.id, unit_index=index, scan_count=count,
                             first_scan_at=now - timedelta(days=1), last_scan_at=now,
                             provinces=provinces))  # fmt: skip
    session.commit()
    console_sign_in("auditor")
    page = client.get("/admin/anomalies?view=codes").get_data(as_text=True)
    rows = page.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 2
    assert "31, 44" in rows and ">25<" in rows
