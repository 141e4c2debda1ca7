"""Request and response bodies for sink credits."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ledger.credits import (
    BENEFICIARY_MAX_LENGTH_CHARS,
    PURPOSE_MAX_LENGTH_CHARS,
    REFERENCE_MAX_LENGTH_CHARS,
    RETIREMENT_LINES_MAX,
)
from ledger.credits.files import IMPORT_BYTES_MAX
from service.schemas import BodySchema


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
        required=True, validate=validate.Length(min=1, max=BENEFICIARY_MAX_LENGTH_CHARS)
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
    created_at = fields.DateTime()


class RetirementSchema(Schema):
    id = fields.Integer()
    registry = fields.String()
    registry_reference = fields.String()
    beneficiary = fields.String()
    purpose = fields.String()
    retired_on = fields.Date()
    quantity_t = fields.Integer()
    allocated_g = fields.Integer()
    created_at = fields.DateTime()


class RetirementDetailSchema(RetirementSchema):
    ranges = fields.List(fields.Nested(RetiredRangeSchema))
    allocations = fields.List(fields.Nested(AllocationSchema))
