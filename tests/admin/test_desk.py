"""The enterprise desk at /desk: staff register a product, record its footprint from a file,
apply for a label, order a lot, have it paid (the operator confirms the bank transfer in the
console), download its codes and see its scans, and never see another enterprise's things."""

import csv
import io
import json
from pathlib import Path

import sqlalchemy as sa

from labels.models import Footprint, Label, LabelLot, Product
from tests.admin.conftest import form_token

FOOTPRINT_FILE = Path(__file__).parents[2] / "examples" / "footprints" / "declared-5kg-bag.json"
PRODUCT = {"gtin": "6901234567892", "name": "练塘香粳米 5kg", "category": "milled_rice",
           "declared_unit": "unit", "net_content_g": "5000"}  # fmt: skip


def register(client, csrf, organisation):
    form = {"csrf_token": csrf(), **PRODUCT, "organisation_id": str(organisation.id)}
    response = client.post("/desk/products", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def upload(client, csrf, product_id, content, name="footprint.json"):
    return client.post(
        f"/desk/products/{product_id}/footprints?lang=en",
        data={"csrf_token": csrf(), "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_staff_sign_in_to_their_desk(client, console_sign_in, make_organisation):
    enterprise = make_organisation("enterprise", name="练塘大米有限公司")
    console_sign_in("enterprise_staff", organisation=enterprise)
    home = client.get("/admin/")
    assert (home.status_code, home.headers["Location"]) == (302, "/desk/")
    assert "练塘大米有限公司" in client.get("/desk/").get_data(as_text=True)


def test_a_product_its_footprint_and_a_label_application(
    client, console_sign_in, csrf, make_organisation, session
):
    enterprise = make_organisation("enterprise")
    console_sign_in("enterprise_staff", organisation=enterprise)
    product_id = register(client, csrf, enterprise)
    assert session.get(Product, product_id).gtin == "06901234567892"
    recorded = upload(client, csrf, product_id, FOOTPRINT_FILE.read_bytes())
    text = recorded.get_data(as_text=True)
    assert "The footprint is recorded." in text and "Paddy methane" in text and "6.2500" in text
    footprint = session.scalars(sa.select(Footprint)).one()
    applied = client.post(
        "/desk/labels",
        data={"csrf_token": csrf(), "product_id": str(product_id),
              "footprint_id": str(footprint.id), "scheme": "footprint", "markets": ["CN", "DE"]},
    )  # fmt: skip
    assert applied.status_code == 303
    assert session.scalars(sa.select(Label.status)).one() == "submitted"
    assert session.scalars(sa.select(Label.markets)).one() == ["CN", "DE"]
    listed = client.get("/desk/labels?status=submitted&lang=en").get_data(as_text=True)
    assert "练塘香粳米 5kg" in listed and "submitted" in listed
    assert "mainland China <code>CN</code> · Germany <code>DE</code>" in listed
    chinese = client.get(f"/desk/products/{product_id}?lang=zh-CN").get_data(as_text=True)
    assert "中国大陆 <code>CN</code> · 德国 <code>DE</code>" in chinese
    assert '<option value="EU">欧盟（整个市场） (EU)</option>' in chinese


def test_the_desk_refuses_a_carbon_neutral_label_for_the_eu_and_an_application_without_markets(
    client, console_sign_in, csrf, make_organisation, session
):
    enterprise = make_organisation("enterprise")
    console_sign_in("enterprise_staff", organisation=enterprise)
    product_id = register(client, csrf, enterprise)
    upload(client, csrf, product_id, FOOTPRINT_FILE.read_bytes())
    footprint = session.scalars(sa.select(Footprint)).one()
    form = {"product_id": str(product_id), "footprint_id": str(footprint.id),
            "scheme": "carbon_neutral"}  # fmt: skip
    refused = client.post(
        "/desk/labels?lang=zh-CN",
        data={"csrf_token": csrf(), **form, "markets": ["CN", "FR"]},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert (
        "销售市场：欧盟第 2024/825 号指令自 2026 年 9 月 27 日起禁止在欧盟基于抵消作出碳中和声明："
        "请删除 FR，或改为申请碳足迹标签或低碳标签。" in refused
    )
    english = client.post(
        "/desk/labels?lang=en", data={"csrf_token": csrf(), **form}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Markets: Missing data for required field." in english
    assert session.scalar(sa.select(sa.func.count()).select_from(Label)) == 0


def test_a_bad_footprint_file_names_its_fields_and_records_nothing(
    client, console_sign_in, csrf, make_organisation, session
):
    enterprise = make_organisation("enterprise")
    console_sign_in("enterprise_staff", organisation=enterprise)
    product_id = register(client, csrf, enterprise)
    document = json.loads(FOOTPRINT_FILE.read_text())
    unsigned = {key: value for key, value in document.items() if key != "verifier"}
    answer = upload(client, csrf, product_id, json.dumps(unsigned).encode()).get_data(as_text=True)
    assert "verifier: Missing data for required field." in answer
    negative = json.dumps({**document, "kg_per_unit": "-1"}).encode()
    answer = upload(client, csrf, product_id, negative).get_data(as_text=True)
    assert "kg_per_unit: Must be greater than 0." in answer
    assert "File: Not valid JSON." in upload(client, csrf, product_id, b"{nope").get_data(
        as_text=True
    )
    huge = upload(client, csrf, product_id, b" " * (256 * 1024 + 1)).get_data(as_text=True)
    assert "File: Longer than 262144 bytes." in huge
    assert session.scalar(sa.select(sa.func.count()).select_from(Footprint)) == 0


def test_another_enterprises_product_and_lot_are_not_found(
    client, console_sign_in, staff, certified, retired_tonne, make_organisation
):
    _, headers = staff
    label = certified("carbon_neutral")
    body = {"label_id": label["id"], "lot_number": "A1", "units": 10}
    lot = client.post("/api/v1/lots", headers=headers, json=body).get_json()
    console_sign_in("enterprise_staff", organisation=make_organisation("enterprise"))
    assert client.get(f"/desk/products/{label['product_id']}").status_code == 404
    assert client.get(f"/desk/lots/{lot['id']}").status_code == 404
    assert client.get(f"/desk/lots/{lot['id']}/codes.csv").status_code == 404


def test_order_pay_offline_export_and_see_the_scans(
    app, client, console_sign_in, make_staff, staff, certified, retired_tonne, session, csrf
):
    organisation, _ = staff
    label = certified("carbon_neutral")
    console_sign_in("enterprise_staff", organisation=organisation)
    ordered = client.post(
        "/desk/lots", data={"csrf_token": csrf(), "label_id": str(label["id"]),
                            "lot_number": "LT2026B", "units": "20"},
    )  # fmt: skip
    assert ordered.status_code == 303
    lot = session.scalars(sa.select(LabelLot)).one()
    assert ordered.headers["Location"] == f"/desk/lots/{lot.id}"
    page = client.get(f"/desk/lots/{lot.id}?lang=en").get_data(as_text=True)
    assert "awaiting payment" in page and f"LOT-{lot.id}" in page
    assert client.get(f"/desk/lots/{lot.id}/codes.csv").status_code == 409

    operator = app.test_client()
    token = form_token(operator.get("/admin/login").get_data(as_text=True))
    user = make_staff(role="operator", password="correct horse battery staple")
    operator.post("/admin/login", data={"username": user.username, "csrf_token": token,
                                        "password": "correct horse battery staple"})  # fmt: skip
    with operator.session_transaction() as cookie:
        operator_csrf = cookie["csrf"]
    due = f"{lot.amount_fen // 100}.{lot.amount_fen % 100:02d}"
    wrong = operator.post(f"/admin/lots/{lot.id}/payment?lang=en",
                          data={"csrf_token": operator_csrf, "reference": "BOC-1",
                                "amount_yuan": "1.00"}, follow_redirects=True)  # fmt: skip
    assert f"The lot costs {lot.amount_fen} fen." in wrong.get_data(as_text=True)
    paid = operator.post(f"/admin/lots/{lot.id}/payment",
                         data={"csrf_token": operator_csrf, "reference": "BOC-1",
                               "amount_yuan": due})  # fmt: skip
    assert paid.status_code == 303
    session.expire_all()
    assert session.get(LabelLot, lot.id).status == "issued"

    codes = client.get(f"/desk/lots/{lot.id}/codes.csv")
    rows = list(csv.reader(io.StringIO(codes.get_data(as_text=True))))
    assert len(rows) == 21 and rows[1][0] == "0"
    assert rows[1][2].startswith(
        f"{app.config['PUBLIC_BASE_URL']}/01/06901234567892/10/LT2026B/21/"
    )
    sheet = client.get(f"/desk/lots/{lot.id}/sheet.svg?start=0&count=5")
    assert sheet.mimetype == "image/svg+xml" and sheet.get_data(as_text=True).count("<path") >= 5
    assert client.get(f"/desk/lots/{lot.id}/sheet.svg?count=501").status_code == 422
    assert client.get(f"/desk/lots/{lot.id}/sheet.svg?start=20").status_code == 404

    before = client.get(f"/desk/lots/{lot.id}?lang=en").get_data(as_text=True)
    assert "Nobody has scanned yet." in before
    scan_path = rows[1][2].removeprefix(app.config["PUBLIC_BASE_URL"])
    assert app.test_client().get(scan_path, headers={"Accept": "text/html"}).status_code == 200
    # Production counts scans in Redis; the flush job writes them to the database.
    assert app.test_cli_runner().invoke(args=["scans", "flush"]).exit_code == 0
    after = client.get(f"/desk/lots/{lot.id}?lang=en").get_data(as_text=True)
    assert "data-chart=" in after and "Units first scanned" in after
    assert rows[1][2] in after  # the sample scan page is the first unit's
