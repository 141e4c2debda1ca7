"""Request and response bodies for parties."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.base.parties.models import (
    INVITATION_STATUSES,
    ORGANISATION_KINDS,
    ORGANISATION_STATUSES,
)
from service.base.parties.services import SELF_REGISTERED_KINDS
from service.base.schemas import BodySchema

NAME_MAX_LENGTH_CHARS = 128


class OrganisationSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(validate=validate.OneOf(ORGANISATION_KINDS), dump_only=True)
    name = fields.String()
    uscc = fields.String(allow_none=True, metadata={"description": "Unified social credit code."})
    region_code = fields.String(allow_none=True, metadata={"description": "GB/T 2260 code."})
    status = fields.String(validate=validate.OneOf(ORGANISATION_STATUSES), dump_only=True)
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    approved_at = fields.DateTime(dump_only=True, allow_none=True)


class OrganisationCreateSchema(BodySchema):
    kind = fields.String(required=True, validate=validate.OneOf(SELF_REGISTERED_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX_LENGTH_CHARS))
    uscc = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    region_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=6))
    contact_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=64)
    )
    contact_phone = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=20)
    )
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))


class OrganisationUpdateSchema(BodySchema):
    name = fields.String(validate=validate.Length(min=1, max=NAME_MAX_LENGTH_CHARS))
    uscc = fields.String(allow_none=True, validate=validate.Length(max=32))
    region_code = fields.String(allow_none=True, validate=validate.Length(max=6))
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=64))
    contact_phone = fields.String(allow_none=True, validate=validate.Length(max=20))
    address = fields.String(allow_none=True, validate=validate.Length(max=256))


class OrganisationQuerySchema(Schema):
    kind = fields.String(validate=validate.OneOf(ORGANISATION_KINDS))
    status = fields.String(validate=validate.OneOf(ORGANISATION_STATUSES))


class InvitationCreateSchema(BodySchema):
    phone = fields.String(required=True, validate=validate.Length(min=1, max=20))
    role = fields.String(required=True, validate=validate.OneOf(("enterprise_staff", "farm_staff")))


class InvitationSchema(Schema):
    """An invitation as its organisation and its invitee see it: never who holds the number."""

    id = fields.Integer()
    organisation_id = fields.Integer()
    organisation_name = fields.String(attribute="organisation.name")
    role = fields.String()
    phone = fields.String()
    status = fields.String(validate=validate.OneOf(INVITATION_STATUSES))
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)


class MemberSchema(Schema):
    user_id = fields.Integer()
    display_name = fields.String(attribute="user.display_name")
    phone = fields.String(attribute="user.phone", allow_none=True)
    role = fields.String()
    created_at = fields.DateTime()
