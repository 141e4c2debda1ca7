"""An issued lot's codes over HTTP, for printing: every unit's GS1 Digital Link URI as CSV, the
lot-level code, single unit codes (SVG, PNG, WeChat mini-program code) and sheets of them.

Routed on the ``lots`` blueprint: the codes are a lot's (``/api/v1/lots/<id>/…``).
"""

from __future__ import annotations

from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from labels import exports, lots
from labels.api.lots import blp
from labels.codes import LotKey, scene_for, serial_for, serials
from labels.models import LabelLot, Product
from service.auth.authz import authenticated, requires
from service.base.exceptions import NotFound
from service.db import get_session
from service.extensions import wechat_client

#: The first bytes of a JPEG file (WeChat may answer a mini-program code as JPEG).
JPEG_MAGIC = b"\xff\xd8\xff"


class SheetQuerySchema(Schema):
    start = fields.Integer(load_default=0, validate=validate.Range(min=0))
    count = fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=exports.SHEET_CODES_MAX)
    )


def _issued(lot_id: int) -> tuple[LabelLot, Product, LotKey]:
    return lots.lot_issued_for_reader(
        get_session(), authenticated(), lot_id, current_app.config["UNIT_CODE_MASTER_KEYS"]
    )


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


def _unit_uri(lot_id: int, index: int) -> str:
    lot, product, key = _issued(lot_id)
    if not 0 <= index < lot.units:
        raise NotFound()
    return exports.digital_link(_base_url(), product.gtin, lot.lot_number, serial_for(key, index))


@blp.route("/<id:lot_id>/codes.csv")
class LotCodesCsv(MethodView):
    @blp.response(200, content_type="text/csv", description="index,serial,uri per unit.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int):
        """Every unit's GS1 Digital Link URI, streamed, for variable-data printers."""
        lot, _, key = _issued(lot_id)
        return Response(
            stream_with_context(exports.csv_chunks(_base_url(), key)),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="lot-{lot.id}-{lot.lot_number}.csv"'
            },
        )


@blp.route("/<id:lot_id>/qr.svg")
class LotQrSvg(MethodView):
    @blp.response(200, content_type="image/svg+xml", description="The lot-level code.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int):
        """The lot-level code: one code for the whole batch."""
        lot, product, _ = _issued(lot_id)
        uri = exports.digital_link(_base_url(), product.gtin, lot.lot_number)
        return Response(exports.qr_svg(uri, lot.lot_number), mimetype="image/svg+xml")


@blp.route("/<id:lot_id>/units/<int:index>/qr.svg")
class UnitQrSvg(MethodView):
    @blp.response(200, content_type="image/svg+xml", description="One unit's code.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int, index: int):
        """One unit's code as SVG."""
        uri = _unit_uri(lot_id, index)
        return Response(exports.qr_svg(uri, uri.rsplit("/", 1)[1]), mimetype="image/svg+xml")


@blp.route("/<id:lot_id>/units/<int:index>/qr.png")
class UnitQrPng(MethodView):
    @blp.response(200, content_type="image/png", description="One unit's code.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int, index: int):
        """One unit's code as PNG."""
        return Response(exports.qr_png(_unit_uri(lot_id, index)), mimetype="image/png")


@blp.route("/<id:lot_id>/sheet.svg")
class LotSheetSvg(MethodView):
    @blp.arguments(SheetQuerySchema, location="query")
    @blp.response(200, content_type="image/svg+xml", description="A grid of unit codes.")
    @requires("enterprise_staff", "operator")
    def get(self, query: dict, lot_id: int):
        """A printable sheet of ``count`` unit codes from ``start`` (at most 500), streamed."""
        lot, product, key = _issued(lot_id)
        start = query["start"]
        stop = min(start + query["count"], lot.units)
        if start >= stop:
            raise NotFound()
        items = [
            (exports.digital_link(_base_url(), product.gtin, lot.lot_number, serial), serial)
            for serial in serials(key, start, stop)
        ]
        return Response(stream_with_context(exports.sheet_svg(items)), mimetype="image/svg+xml")


@blp.route("/<id:lot_id>/units/<int:index>/wxacode")
class UnitMiniProgramCode(MethodView):
    @blp.response(200, content_type="image/png", description="WeChat's mini-program code.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int, index: int):
        """One unit's WeChat mini-program code (``getwxacodeunlimit``): it opens the scan page
        with scene ``{lot id}.{serial}``."""
        lot, _, key = _issued(lot_id)
        if not 0 <= index < lot.units:
            raise NotFound()
        image = wechat_client().unlimited_code(
            scene_for(lot.id, serial_for(key, index)),
            page=current_app.config["WECHAT_SCAN_PAGE"],
        )
        mimetype = "image/jpeg" if image[:3] == JPEG_MAGIC else "image/png"
        return Response(image, mimetype=mimetype)
