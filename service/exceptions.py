"""The service's exception hierarchy, free of Flask so every package can raise it.

Each class has a closed machine ``code`` and an HTTP ``status``; ``service.errors`` renders every
one of them in the single JSON error shape. Domain packages subclass these (one hierarchy per
package) rather than raising HTTP errors.
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """A failure the client can act on.

    ``params`` fill the localised message; ``fields`` maps a field path to English messages
    (localised when rendered); ``headers`` go on the response. ``persist_changes`` is for failures
    whose side effects must stay, such as counting a failed sign-in.
    """

    code = "bad_request"
    status = 400
    persist_changes = False

    def __init__(
        self,
        *,
        code: str | None = None,
        status: int | None = None,
        params: Mapping[str, object] | None = None,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.params = dict(params or {})
        self.fields = {name: list(messages) for name, messages in (fields or {}).items()}
        self.headers = dict(headers or {})
        super().__init__(self.code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, params={self.params!r})"


class ValidationFailed(ServiceError):
    code = "validation_failed"
    status = 422

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls(fields={name: [message]})


class AuthenticationFailed(ServiceError):
    code = "authentication_required"
    status = 401


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403


class RoleRequired(Forbidden):
    code = "role_required"

    def __init__(self, roles: list[str] | tuple[str, ...]) -> None:
        super().__init__(params={"roles": ", ".join(roles)})


class NotFound(ServiceError):
    code = "not_found"
    status = 404


class Conflict(ServiceError):
    code = "conflict"
    status = 409


class AlreadyExists(Conflict):
    code = "already_exists"

    def __init__(self, what: str, field: str | None = None) -> None:
        fields = {field: [f"{what} already exists."]} if field else None
        super().__init__(params={"what": what}, fields=fields)


class TooManyRequests(ServiceError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after_s: int, *, code: str | None = None) -> None:
        retry_after_s = max(1, int(retry_after_s))
        super().__init__(
            code=code,
            params={"retry_after_s": retry_after_s},
            headers={"Retry-After": str(retry_after_s)},
        )


class UpstreamUnavailable(ServiceError):
    """An external service (WeChat, a registry) failed; the request changed nothing."""

    code = "service_unavailable"
    status = 503
