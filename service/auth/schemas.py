"""Request and response bodies for sign-in, and the signed-in user with their roles."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.auth.challenges import ANSWER_MAX_LENGTH_CHARS, CHALLENGE_MAX_LENGTH_CHARS
from service.base.config import PASSWORD_MAX_LENGTH_CHARS
from service.base.parties.models import ROLES
from service.base.schemas import BodySchema

#: wx.login codes are 32 characters today; leave room but refuse junk.
WECHAT_CODE_MAX_LENGTH_CHARS = 128
REFRESH_TOKEN_MAX_LENGTH_CHARS = 128


class WeChatCodeSchema(BodySchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=WECHAT_CODE_MAX_LENGTH_CHARS),
        metadata={"description": "The code from wx.login (sign-in) or getPhoneNumber (phone)."},
    )


class PasswordSignInSchema(BodySchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH_CHARS),
    )
    challenge = fields.String(
        load_default=None,
        validate=validate.Length(max=CHALLENGE_MAX_LENGTH_CHARS),
        metadata={"description": "A challenge from /auth/password/challenge, once one is needed."},
    )
    challenge_answer = fields.String(
        load_default=None,
        validate=validate.Length(max=ANSWER_MAX_LENGTH_CHARS),
        metadata={"description": "Decimal digits whose hash with the challenge fits its bits."},
    )


class ChallengeRequestSchema(BodySchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ChallengeSchema(Schema):
    challenge = fields.String(required=True)
    bits = fields.Integer(required=True, metadata={"description": "Leading zero bits needed."})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})


class RefreshSchema(BodySchema):
    refresh_token = fields.String(
        required=True, validate=validate.Length(min=1, max=REFRESH_TOKEN_MAX_LENGTH_CHARS)
    )


class MembershipSchema(Schema):
    organisation_id = fields.Integer(required=True)
    organisation_kind = fields.String(attribute="organisation.kind")
    organisation_name = fields.String(attribute="organisation.name")
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    display_name = fields.String()
    username = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    memberships = fields.List(fields.Nested(MembershipSchema), dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class TokensSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.Constant("Bearer")
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})
    refresh_token = fields.String(required=True)
    refresh_expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})
    created = fields.Boolean(metadata={"description": "True when this sign-in created the user."})
    user = fields.Nested(UserSchema, required=True)
