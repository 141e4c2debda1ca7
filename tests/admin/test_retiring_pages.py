"""A lot paid before its enterprise had the retired grams reads "paid, retiring" on the desk
and in the console, with the tonnes the registry is asked for; a request the registry refused is
shown to operators with its reason. Both languages."""

from datetime import UTC, datetime

import sqlalchemy as sa

from labels import lots
from labels.models import LabelLot, LotRetirement
from tests.labels.conftest import order


def paid_retiring(client, staff, certified, session):
    _, headers = staff
    lot = session.get(LabelLot, order(client, headers, certified(), 161).get_json()["id"])
    lots.lot_payment_confirm(
        session, lot=lot, provider="offline", reference="BOC-9", amount_fen=lot.amount_fen,
        now=datetime.now(UTC),
    )  # fmt: skip
    session.commit()
    return lot


def test_the_desk_says_what_a_reserved_lot_will_retire_on_payment(
    client, console_sign_in, staff, certified, retired_tonne, session
):
    organisation, headers = staff
    lot = order(client, headers, certified(), 161).get_json()
    console_sign_in("enterprise_staff", organisation=organisation)
    english = client.get(f"/desk/lots/{lot['id']}?lang=en").get_data(as_text=True)
    assert "cover 1,000,000 g of this lot: once it is paid, the registry retires 1 t more" in (
        english.replace("&#39;", "'")
    )
    chinese = client.get(f"/desk/lots/{lot['id']}?lang=zh-CN").get_data(as_text=True)
    assert "可覆盖本批次 1,000,000 克：付款后，登记簿将以贵企业名义再注销 1 吨" in chinese


def test_the_desk_shows_a_lot_paid_and_retiring(
    client, console_sign_in, staff, certified, retired_tonne, session
):
    organisation, _ = staff
    lot = paid_retiring(client, staff, certified, session)
    console_sign_in("enterprise_staff", organisation=organisation)
    english = client.get(f"/desk/lots/{lot.id}?lang=en").get_data(as_text=True)
    assert "paid, retiring" in english
    assert "The registry is retiring 1 t of credits in your enterprise" in english
    assert f"tanhui-lot-{lot.id}" in english and "waiting for the registry" in english
    chinese = client.get(f"/desk/lots/{lot.id}?lang=zh-CN").get_data(as_text=True)
    assert "已付款，注销中" in chinese and "正在以贵企业名义为本批次注销 1 吨碳信用" in chinese


def test_the_console_counts_retiring_lots_and_shows_a_refusal(
    client, console_sign_in, staff, certified, retired_tonne, session
):
    lot = paid_retiring(client, staff, certified, session)
    session.execute(
        sa.update(LotRetirement)
        .where(LotRetirement.lot_id == lot.id)
        .values(status="refused", last_error="holding_insufficient: 0 t held")
    )
    session.commit()
    console_sign_in("operator")
    home = client.get("/admin/?lang=en").get_data(as_text=True)
    assert "Lots paid, retiring credits" in home and "1 refused by the registry" in home
    listed = client.get("/admin/lots?status=retiring&lang=en").get_data(as_text=True)
    assert "1 t to retire" in listed and "refused by the registry" in listed
    assert "holding_insufficient: 0 t held" in listed
    chinese = client.get("/admin/lots?status=retiring&lang=zh-CN").get_data(as_text=True)
    assert "待注销 1 吨" in chinese and "登记簿拒绝注销" in chinese
