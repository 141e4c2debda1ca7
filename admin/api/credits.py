"""Sink credits over HTTP: the operators' and the public's web face of ``ledger.credits``
(the ledger itself speaks no HTTP), with its request and response bodies.

Anyone may read projects, batches and retirements (with the grams allocated from each retirement
and to what), and download them as open data in CSV or JSON. Operators import registry files and
record retirements. Allocation has no endpoint of its own: label orders and personal offsets
allocate as part of their own requests.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ledger import credits
from ledger.credits import (
    BENEFICIARY_MAX_LENGTH_CHARS,
    PURPOSE_MAX_LENGTH_CHARS,
    REFERENCE_MAX_LENGTH_CHARS,
    RETIREMENT_LINES_MAX,
    disclosure,
    selectors,
)
from ledger.credits.files import IMPORT_BYTES_MAX
from ledger.errors import Outcome
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.exceptions import NotFound
from service.base.schemas import BodySchema
from service.db import get_session, utcnow
from service.pagination import paginate


# -- bodies ----------------------------------------------------------------------------------------
class ImportCreateSchema(BodySchema):
    filename = fields.String(load_default="", validate=validate.Length(max=255))
    format = fields.String(required=True, validate=validate.OneOf(("csv", "json")))
    content = fields.String(
        required=True,
        validate=validate.Length(min=1, max=IMPORT_BYTES_MAX),
        metadata={"description": "The file's text (UTF-8), in the documented CSV or JSON form."},
    )


class ImportResultSchema(Schema):
    outcome = fields.String(metadata={"description": "created, or exists (nothing changed)."})
    import_id = fields.Integer(allow_none=True)
    batches_created = fields.Integer()
    batches_unchanged = fields.Integer()


class RetirementLineSchema(BodySchema):
    batch_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    quantity_t = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class RetirementCreateSchema(BodySchema):
    registry_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    registry_reference = fields.String(
        required=True, validate=validate.Length(min=1, max=REFERENCE_MAX_LENGTH_CHARS)
    )
    beneficiary = fields.String(
        required=True,
        validate=validate.Length(min=1, max=BENEFICIARY_MAX_LENGTH_CHARS),
        metadata={"description": "The beneficiary's name as the registry wrote it."},
    )
    beneficiary_organisation_id = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={
            "description": "The organisation the retirement was made for: the only party whose "
            "claims may draw on it. ``beneficiary`` must be its name."
        },
    )
    purpose = fields.String(
        required=True, validate=validate.Length(min=1, max=PURPOSE_MAX_LENGTH_CHARS)
    )
    retired_on = fields.Date(required=True)
    lines = fields.List(
        fields.Nested(RetirementLineSchema),
        required=True,
        validate=validate.Length(min=1, max=RETIREMENT_LINES_MAX),
    )


class FarmSchema(Schema):
    code = fields.String()
    name = fields.String()


class ProjectSchema(Schema):
    id = fields.Integer()
    registry = fields.String()
    external_id = fields.String(metadata={"description": "The project's id at its registry."})
    name = fields.String()
    methodology = fields.String()
    region_code = fields.String(metadata={"description": "GB/T 2260 code."})
    farms = fields.List(fields.Nested(FarmSchema))
    issued_t = fields.Integer(metadata={"description": "Tonnes CO2e imported."})
    retired_t = fields.Integer()
    allocated_g = fields.Integer(metadata={"description": "Grams CO2e allocated to targets."})


class ProjectQuerySchema(Schema):
    region_code = fields.String(validate=validate.Length(equal=6))


class ShareSchema(Schema):
    farm_code = fields.String()
    farm_name = fields.String()
    share_percent = fields.String(metadata={"description": "Exact decimal, e.g. 31.5."})


class RangeSchema(Schema):
    serial_start = fields.Integer()
    serial_end = fields.Integer()
    quantity_t = fields.Integer()
    status = fields.String(metadata={"description": "available or retired"})
    retirement_id = fields.Integer(allow_none=True)


class BatchSchema(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    vintage = fields.Integer()
    serial_start = fields.Integer()
    serial_end = fields.Integer()
    quantity_t = fields.Integer()
    retired_t = fields.Integer()
    available_t = fields.Integer()
    shares = fields.List(fields.Nested(ShareSchema))
    ranges = fields.List(fields.Nested(RangeSchema))


class BatchQuerySchema(Schema):
    project_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    vintage = fields.Integer(validate=validate.Range(min=2000, max=9999))


class RetiredRangeSchema(Schema):
    id = fields.Integer()
    batch_id = fields.Integer()
    project_id = fields.Integer()
    project_name = fields.String()
    vintage = fields.Integer()
    serial_start = fields.Integer()
    serial_end = fields.Integer()
    quantity_t = fields.Integer()


class AllocationSchema(Schema):
    allocation_id = fields.Integer()
    target_type = fields.String(metadata={"description": "label_lot or personal_offset"})
    target_id = fields.String()
    range_id = fields.Integer()
    quantity_g = fields.Integer()
    serial_start = fields.Integer(metadata={"description": "The first serial this part took."})
    serial_end = fields.Integer(metadata={"description": "The last serial this part took."})
    first_serial_g = fields.Integer(metadata={"description": "Grams taken of serial_start."})
    last_serial_g = fields.Integer(metadata={"description": "Grams taken of serial_end."})
    from_g = fields.Integer(metadata={"description": "Gram of serial_start where it begins."})
    to_g = fields.Integer(metadata={"description": "Gram of serial_end where it ends (exclusive)."})
    created_at = fields.DateTime()


class RetirementSchema(Schema):
    id = fields.Integer()
    registry = fields.String()
    registry_reference = fields.String()
    beneficiary = fields.String()
    beneficiary_organisation_id = fields.Integer(allow_none=True)
    purpose = fields.String()
    retired_on = fields.Date()
    quantity_t = fields.Integer()
    allocated_g = fields.Integer()
    created_at = fields.DateTime()


class RetirementDetailSchema(RetirementSchema):
    ranges = fields.List(fields.Nested(RetiredRangeSchema))
    allocations = fields.List(fields.Nested(AllocationSchema))


# -- views -----------------------------------------------------------------------------------------
blp = Blueprint(
    "credits",
    __name__,
    url_prefix="/api/v1/credits",
    description="Agricultural sink credits: projects, batches, retirements and allocations.",
)
PAGE_SIZE_DEFAULT = 20


@blp.route("/projects")
class Projects(MethodView):
    @blp.arguments(ProjectQuerySchema, location="query")
    @blp.response(200, ProjectSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    def get(self, query: dict, pagination_parameters):
        """Projects, with their farms and tonnes issued, retired and allocated (public)."""
        session = get_session()
        statement = selectors.projects(region_code=query.get("region_code"))
        page = paginate(session, statement, pagination_parameters)
        return [disclosure.project_view(session, project) for project in page]


@blp.route("/projects/<id:project_id>")
class ProjectItem(MethodView):
    @blp.response(200, ProjectSchema)
    def get(self, project_id: int):
        """One project (public)."""
        session = get_session()
        project = selectors.project(session, project_id=project_id)
        if project is None:
            raise NotFound()
        return disclosure.project_view(session, project)


@blp.route("/batches")
class Batches(MethodView):
    @blp.arguments(BatchQuerySchema, location="query")
    @blp.response(200, BatchSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    def get(self, query: dict, pagination_parameters):
        """Batches with their farms' shares and serial ranges, available and retired (public)."""
        session = get_session()
        statement = selectors.batches(
            project_id=query.get("project_id"), vintage=query.get("vintage")
        )
        return disclosure.batch_views(session, paginate(session, statement, pagination_parameters))


@blp.route("/retirements")
class Retirements(MethodView):
    @blp.response(200, RetirementSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    def get(self, pagination_parameters):
        """Retirements, newest first, with the grams allocated from each (public)."""
        session = get_session()
        statement = selectors.retirements()
        return disclosure.retirement_views(
            session, paginate(session, statement, pagination_parameters)
        )

    @blp.arguments(RetirementCreateSchema)
    @blp.response(201, RetirementDetailSchema)
    @blp.alt_response(200, schema=RetirementDetailSchema, description="The reference repeated.")
    @requires("operator")
    def post(self, body: dict):
        """Record a retirement the registry made (operators). Whole tonnes per batch, the
        lowest available serials first; repeating a reference answers the original."""
        session = get_session()
        result = credits.retire(
            session,
            registry_code=body["registry_code"],
            registry_reference=body["registry_reference"],
            beneficiary=body["beneficiary"],
            beneficiary_organisation_id=body["beneficiary_organisation_id"],
            purpose=body["purpose"],
            retired_on=body["retired_on"],
            lines=[credits.RetirementLine(**line) for line in body["lines"]],
            recorded_by=authenticated().user_id,
            now=utcnow(),
        )
        (view,) = disclosure.retirement_views(session, [result.retirement], detailed=True)
        return view, 201 if result.outcome is Outcome.CREATED else 200


@blp.route("/retirements/<id:retirement_id>")
class RetirementItem(MethodView):
    @blp.response(200, RetirementDetailSchema)
    def get(self, retirement_id: int):
        """One retirement: its serial ranges, and every allocation drawn on it (public)."""
        session = get_session()
        retirement = selectors.retirement(session, retirement_id=retirement_id)
        if retirement is None:
            raise NotFound()
        (view,) = disclosure.retirement_views(session, [retirement], detailed=True)
        return view


@blp.route("/imports")
class Imports(MethodView):
    @blp.arguments(ImportCreateSchema)
    @blp.response(201, ImportResultSchema)
    @blp.alt_response(200, schema=ImportResultSchema, description="Nothing new in the file.")
    @requires("operator")
    def post(self, body: dict):
        """Import a registry file (operators): all of it, or nothing and a 422 whose ``fields``
        name every bad row and field. The same file again changes nothing."""
        result = credits.import_file(
            get_session(),
            content=body["content"].encode("utf-8"),
            file_format=body["format"],
            filename=body["filename"],
            imported_by=authenticated().user_id,
            now=utcnow(),
        )
        payload = {
            "outcome": result.outcome.value,
            "import_id": result.import_id,
            "batches_created": result.batches_created,
            "batches_unchanged": result.batches_unchanged,
        }
        return payload, 201 if result.outcome is Outcome.CREATED else 200


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _export_name(extension: str) -> str:
    return f"tanhui-sink-credits-{date.today().isoformat()}.{extension}"


@blp.route("/export.csv")
class ExportCsv(MethodView):
    @blp.response(200, content_type="text/csv", description="One row per serial range.")
    def get(self):
        """Open data: every serial range, its batch, project, retirement and grams allocated."""
        session = get_session()

        def lines() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=disclosure.EXPORT_COLUMNS)
            buffer.write("\ufeff")  # spreadsheet programs read UTF-8 by it
            writer.writeheader()
            for row in disclosure.export_rows(session):
                writer.writerow(row)
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        return Response(
            stream_with_context(lines()),
            mimetype="text/csv",
            headers=_attachment(_export_name("csv")),
        )


@blp.route("/export.json")
class ExportJson(MethodView):
    @blp.response(200, content_type="application/json", description="The same rows as JSON.")
    def get(self):
        """Open data as JSON: ``{"columns": [...], "rows": [{...}, ...]}``, streamed."""
        session = get_session()

        def chunks() -> Iterator[str]:
            yield '{"columns":' + json.dumps(list(disclosure.EXPORT_COLUMNS)) + ',"rows":['
            for number, row in enumerate(disclosure.export_rows(session)):
                yield ("," if number else "") + json.dumps(row, ensure_ascii=False)
            yield "]}"

        return Response(
            stream_with_context(chunks()),
            mimetype="application/json",
            headers=_attachment(_export_name("json")),
        )
