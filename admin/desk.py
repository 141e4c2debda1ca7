"""The enterprise desk at ``/desk``: staff of an enterprise register products, add footprints,
apply for labels, order lots, download their codes, and see how a lot is scanned and claimed.

Staff sign in on the console's sign-in page. Every object is reached through the same reader
checks the API uses (``product_for_reader``, ``label_for_reader``, ``lot_for_reader``), so one
enterprise's staff never see another's, and every form calls the API's service function.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Response,
    current_app,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from admin.selectors import desk as selectors
from admin.web import (
    choice,
    form_action,
    form_load,
    page_requires,
    paged,
    pages_blueprint,
    schema_load,
    search_text,
    signed_in,
)
from labels import certification, exports, lots, services
from labels.codes import serials
from labels.markets import MARKETS
from labels.models import (
    DECLARED_UNITS,
    LABEL_SCHEMES,
    LABEL_STATUSES,
    LOT_STATUSES,
    PRODUCT_CATEGORIES,
    Label,
    LabelLot,
    Product,
)
from labels.schemas import (
    FootprintCreateSchema,
    LabelCreateSchema,
    LotCreateSchema,
    ProductCreateSchema,
)
from service.base.exceptions import FieldMessage, NotFound, ValidationFailed
from service.base.parties.models import Organisation
from service.base.parties.services import organisation_active_check
from service.db import get_session, utcnow

blp = pages_blueprint("desk", "/desk", console=True)
#: Activity or report files for a footprint, as the API takes them.
FOOTPRINT_FILE_MAX_BYTES = 256 * 1024
#: Days of scans and claims a lot's chart shows.
SCAN_CHART_DAYS = 60
SHEET_CODES_DEFAULT = 100


def _organisations() -> list[Organisation]:
    return selectors.organisations(get_session(), _enterprise_ids())


def _enterprise_ids() -> list[int]:
    return list(signed_in().organisation_ids("enterprise_staff"))


# -- overview and products ------------------------------------------------------------------------
@blp.get("/")
@page_requires("enterprise_staff")
def home() -> str:
    session, ids = get_session(), _enterprise_ids()
    return render_template(
        "desk/home.html",
        counts=selectors.home_counts(session, ids),
        recent=selectors.lots_recent(session, ids),
        organisations=_organisations(),
    )


@blp.get("/products")
@page_requires("enterprise_staff")
def products() -> str:
    query = search_text()
    return render_template(
        "desk/products.html",
        page=paged(selectors.products(signed_in(), query=query)),
        query=query,
        organisations=_organisations(),
        categories=PRODUCT_CATEGORIES,
        declared_units=DECLARED_UNITS,
    )


@blp.post("/products")
@page_requires("enterprise_staff")
def product_create() -> BaseResponse:
    back = url_for("desk.products")

    def work() -> Product:
        body = form_load(ProductCreateSchema())
        organisation_id = body.pop("organisation_id")
        return services.product_create(
            get_session(), principal=signed_in(), organisation_id=organisation_id, values=body
        )

    return form_action(
        work,
        done=lambda product: url_for("desk.product", product_id=product.id),
        back=back,
        message=gettext("Registered."),
    )


@blp.get("/products/<id:product_id>")
@page_requires("enterprise_staff")
def product(product_id: int) -> str:
    session = get_session()
    record = services.product_for_reader(session, signed_in(), product_id)
    return render_template(
        "desk/product.html",
        product=record,
        organisation=session.get(Organisation, record.organisation_id),
        footprints=selectors.footprints_of(session, record.id),
        applications=selectors.applications_of(session, record.id),
        schemes=LABEL_SCHEMES,
        market_codes=MARKETS,
    )


@blp.post("/products/<id:product_id>/footprints")
@page_requires("enterprise_staff")
def footprint_add(product_id: int) -> BaseResponse:
    """A footprint from a file: the API's body as JSON (``method`` ``computed`` with the farm and
    mill ``activity``, or ``declared`` with a verifier's report)."""
    session = get_session()
    principal = signed_in()
    record = services.product_for_reader(session, principal, product_id)
    back = url_for("desk.product", product_id=record.id)

    def work() -> None:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationFailed.field("file", "Missing data for required field.")
        content = upload.read(FOOTPRINT_FILE_MAX_BYTES + 1)
        if len(content) > FOOTPRINT_FILE_MAX_BYTES:
            raise ValidationFailed.field(
                "file",
                FieldMessage(
                    "Longer than {footprint_file_max_bytes} bytes.",
                    footprint_file_max_bytes=FOOTPRINT_FILE_MAX_BYTES,
                ),
            )
        try:
            document = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValidationFailed.field("file", "Not valid JSON.") from None
        body = schema_load(FootprintCreateSchema(), document)
        certification.footprint_record(
            session, principal=principal, product=record, values=body, now=utcnow()
        )

    message = gettext("The footprint is recorded.")
    return form_action(work, done=back, back=back, message=message)


@blp.post("/labels")
@page_requires("enterprise_staff")
def label_apply() -> BaseResponse:
    """Apply for a scheme on one of a product's footprints; the certifier decides."""
    session, principal = get_session(), signed_in()

    def work() -> None:
        body = form_load(LabelCreateSchema())
        record = services.product_for_reader(session, principal, body["product_id"])
        certification.label_apply(session, principal=principal, product=record,
            footprint_id=body["footprint_id"], scheme=body["scheme"], markets=body["markets"],
            now=utcnow())  # fmt: skip

    back = url_for("desk.labels")
    message = gettext("Applied; the certifier will review it.")
    return form_action(work, done=back, back=back, message=message)


@blp.get("/labels")
@page_requires("enterprise_staff")
def labels() -> str:
    status = choice("status", LABEL_STATUSES)
    page = paged(selectors.labels(_enterprise_ids(), status=status), scalars=False)
    reasons = selectors.last_reasons(get_session(), [label.id for label, _ in page.rows])
    return render_template(
        "desk/labels.html", page=page, status=status, statuses=LABEL_STATUSES, reasons=reasons
    )


# -- lots -----------------------------------------------------------------------------------------
@blp.get("/lots")
@page_requires("enterprise_staff")
def lot_list() -> str:
    status = choice("status", LOT_STATUSES)
    ids = _enterprise_ids()
    return render_template(
        "desk/lots.html",
        page=paged(selectors.lots(ids, status=status), scalars=False),
        status=status,
        statuses=LOT_STATUSES,
        certified=selectors.labels_certified(get_session(), ids),
    )


@blp.post("/lots")
@page_requires("enterprise_staff")
def lot_order() -> BaseResponse:
    """Order a lot of a certified label: quoted, and its retired credits held until paid."""
    session, principal = get_session(), signed_in()

    def work() -> LabelLot:
        body = form_load(LotCreateSchema())
        label = certification.label_for_reader(session, principal, body["label_id"])
        return lots.lot_order(session, principal=principal, label=label,
            lot_number=body["lot_number"], units=body["units"],
            pricing=lots.Pricing.from_config(current_app.config),
            key_id=current_app.config["UNIT_CODE_KEY_ID"], now=utcnow())  # fmt: skip

    return form_action(
        work,
        done=lambda lot: url_for("desk.lot", lot_id=lot.id),
        back=url_for("desk.lot_list"),
        message=gettext("Ordered; now pay for it."),
    )


def _lot_of_mine(lot_id: int, *, writing: bool = False) -> tuple[LabelLot, Product]:
    session = get_session()
    find = lots.lot_for_writer if writing else lots.lot_for_reader
    lot = find(session, signed_in(), lot_id)
    return lot, session.get(Product, lot.product_id)


def scan_statistics(lot: LabelLot, now: Any) -> dict[str, Any]:
    """Units scanned, scans in all, claims, and per day: units first scanned and units claimed."""
    numbers = selectors.scan_statistics(get_session(), lot.id, now=now, days=SCAN_CHART_DAYS)
    by_day_first = numbers.pop("first_scans_by_day")
    by_day_claimed = numbers.pop("claims_by_day")
    days = sorted({*by_day_first, *by_day_claimed})
    chart = {
        "type": "bar",
        "labels": days,
        "unit": gettext("units"),
        "series": [
            {"label": gettext("Units first scanned"),
             "values": [by_day_first.get(day, 0) for day in days]},
            {"label": gettext("Units claimed"),
             "values": [by_day_claimed.get(day, 0) for day in days]},
        ],
    }  # fmt: skip
    return {**numbers, "chart": chart if days else None}


@blp.get("/lots/<id:lot_id>")
@page_requires("enterprise_staff")
def lot(lot_id: int) -> str:
    session = get_session()
    record, product = _lot_of_mine(lot_id)
    label = session.get(Label, record.label_id)
    revocations = selectors.revocations_of(session, record.id)
    sample = None
    if record.status == "issued":
        key = lots.lot_key_of(record, product, current_app.config["UNIT_CODE_MASTER_KEYS"])
        base = current_app.config["PUBLIC_BASE_URL"]
        serial = next(iter(serials(key, 0, 1)))
        sample = exports.digital_link(base, product.gtin, record.lot_number, serial)
    return render_template(
        "desk/lot.html",
        lot=record,
        product=product,
        label=label,
        revocations=revocations,
        sample=sample,
        statistics=scan_statistics(record, utcnow()) if record.status == "issued" else None,
        sheet_max=exports.SHEET_CODES_MAX,
    )


@blp.post("/lots/<id:lot_id>/cancel")
@page_requires("enterprise_staff")
def lot_cancel(lot_id: int) -> BaseResponse:
    record, _ = _lot_of_mine(lot_id, writing=True)
    back = url_for("desk.lot", lot_id=record.id)
    return form_action(
        lambda: lots.lot_cancel(get_session(), lot=record, now=utcnow()),
        done=back,
        back=back,
        message=gettext("Cancelled; the held credits are released."),
    )


def _issued(lot_id: int) -> tuple[LabelLot, Product, Any]:
    record, product = _lot_of_mine(lot_id)
    if record.status != "issued":
        raise lots.LotStateConflict(params={"status": record.status})
    organisation_active_check(get_session(), product.organisation_id)
    key = lots.lot_key_of(record, product, current_app.config["UNIT_CODE_MASTER_KEYS"])
    return record, product, key


@blp.get("/lots/<id:lot_id>/codes.csv")
@page_requires("enterprise_staff")
def lot_codes_csv(lot_id: int) -> Response:
    """Every unit's GS1 Digital Link, for a variable-data printer (the API's file)."""
    record, _, key = _issued(lot_id)
    name = f"lot-{record.id}-{record.lot_number}.csv"
    base = current_app.config["PUBLIC_BASE_URL"]
    return Response(
        stream_with_context(exports.csv_chunks(base, key)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blp.get("/lots/<id:lot_id>/sheet.svg")
@page_requires("enterprise_staff")
def lot_sheet(lot_id: int) -> Response:
    """A printable sheet of unit codes: ``count`` (at most the API's limit) from ``start``."""
    record, product, key = _issued(lot_id)
    try:
        start = int(request.args.get("start", "0"))
        count = int(request.args.get("count", str(SHEET_CODES_DEFAULT)))
    except ValueError:
        raise ValidationFailed.field("start", "Not a valid integer.") from None
    if start < 0 or not 0 < count <= exports.SHEET_CODES_MAX:
        raise ValidationFailed.field(
            "count",
            FieldMessage(
                "Between 1 and {sheet_codes_max}.", sheet_codes_max=exports.SHEET_CODES_MAX
            ),
        )
    stop = min(start + count, record.units)
    if start >= stop:
        raise NotFound()
    base = current_app.config["PUBLIC_BASE_URL"]
    items = [
        (exports.digital_link(base, product.gtin, record.lot_number, serial), serial)
        for serial in serials(key, start, stop)
    ]
    return Response(stream_with_context(exports.sheet_svg(items)), mimetype="image/svg+xml")


@blp.get("/lots/<id:lot_id>/qr.svg")
@page_requires("enterprise_staff")
def lot_qr(lot_id: int) -> Response:
    record, product, _ = _issued(lot_id)
    base = current_app.config["PUBLIC_BASE_URL"]
    uri = exports.digital_link(base, product.gtin, record.lot_number)
    return Response(exports.qr_svg(uri, record.lot_number), mimetype="image/svg+xml")
