"""The service's exception hierarchy, free of Flask and of HTTP so every package can raise it.

Each error carries a machine ``code`` from a closed set (the ground's :class:`ErrorCode` here, and
one ``ErrorCode`` enum per domain package). Nothing here knows HTTP: ``service.errors`` holds the
one table from codes to statuses and renders every error in the single JSON error shape.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class ErrorCode(enum.StrEnum):
    """The ground's codes: malformed requests, sign-in, permissions, conflicts, limits."""

    BAD_REQUEST = "bad_request"
    INVALID_JSON = "invalid_json"
    AUTHENTICATION_REQUIRED = "authentication_required"
    FORBIDDEN = "forbidden"
    ROLE_REQUIRED = "role_required"
    ORGANISATION_SUSPENDED = "organisation_suspended"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    ALREADY_EXISTS = "already_exists"
    # -- memberships are invitations the invited person answers
    ORGANISATION_NOT_APPROVED = "organisation_not_approved"
    INVITATION_NOT_PENDING = "invitation_not_pending"
    INVITATIONS_TOO_MANY = "invitations_too_many"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    VALIDATION_FAILED = "validation_failed"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"


class Upstream(enum.StrEnum):
    """Why an external service (WeChat, WeChat Pay, a registry) did not answer usefully."""

    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    BAD_ANSWER = "bad_answer"


class ServiceError(Exception):
    """A failure the client can act on.

    ``params`` fill the localised message; ``fields`` maps a field path to English messages,
    each a msgid or a ``FieldMessage`` (translated when rendered); ``headers`` go on the response.
    ``persist_changes`` is for failures whose side effects must stay, such as counting a failed
    sign-in. ``upstream`` says why an external service failed, for the errors that report one.
    """

    code: str = ErrorCode.BAD_REQUEST
    persist_changes = False
    upstream: Upstream | None = None

    def __init__(
        self,
        *,
        code: str | None = None,
        params: Mapping[str, object] | None = None,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        upstream: Upstream | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        if upstream is not None:
            self.upstream = upstream
        self.params = dict(params or {})
        self.fields = {name: list(messages) for name, messages in (fields or {}).items()}
        self.headers = dict(headers or {})
        super().__init__(self.code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, params={self.params!r})"


class FieldMessage(str):
    """A field message with named parameters: it reads as its English text, and keeps its
    template (the msgid, with ``{name}`` fields) and parameters apart, so the edge translates the
    template and fills it in the reader's language. A message without parameters is a plain
    ``str``, itself the msgid."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, /, **params: object) -> FieldMessage:
        message = super().__new__(cls, template.format(**params) if params else template)
        message.template, message.params = template, params
        return message

    def __reduce__(self) -> tuple[object, ...]:
        return (_field_message, (self.template, self.params))


def _field_message(template: str, params: dict[str, object]) -> FieldMessage:
    return FieldMessage(template, **params)


class ValidationFailed(ServiceError):
    code = ErrorCode.VALIDATION_FAILED

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls(fields={name: [message]})


class AuthenticationFailed(ServiceError):
    code = ErrorCode.AUTHENTICATION_REQUIRED


class Forbidden(ServiceError):
    code = ErrorCode.FORBIDDEN


class RoleRequired(Forbidden):
    code = ErrorCode.ROLE_REQUIRED

    def __init__(self, roles: list[str] | tuple[str, ...]) -> None:
        super().__init__(params={"roles": ", ".join(roles)})


class OrganisationSuspended(Forbidden):
    """The organisation is suspended: its staff read, but neither they nor its units act."""

    code = ErrorCode.ORGANISATION_SUSPENDED


class NotFound(ServiceError):
    code = ErrorCode.NOT_FOUND


class Conflict(ServiceError):
    code = ErrorCode.CONFLICT


class AlreadyExists(Conflict):
    code = ErrorCode.ALREADY_EXISTS

    def __init__(self, what: str, field: str | None = None) -> None:
        fields = {field: [FieldMessage("{what} already exists.", what=what)]} if field else None
        super().__init__(params={"what": what}, fields=fields)


class TooManyRequests(ServiceError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after_s: int, *, code: str | None = None) -> None:
        retry_after_s = max(1, int(retry_after_s))
        super().__init__(
            code=code,
            params={"retry_after_s": retry_after_s},
            headers={"Retry-After": str(retry_after_s)},
        )
