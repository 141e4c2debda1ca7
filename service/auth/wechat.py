"""The WeChat mini-program server API, as an adapter.

The calls needed here: ``jscode2session`` (sign-in), ``stable_token`` (the server-side access
token), ``getuserphonenumber`` (phone binding) and ``getwxacodeunlimit`` (mini-program codes for
printed units). The base URL is configurable so tests run
a local server that speaks the same protocol.

The access token is fetched in one place for all workers: it lives in the shared store (Redis in
production), and whoever finds it missing takes a shared lock, looks again, and only then asks
WeChat. ``stable_token`` returns the same token to every caller while it is valid, so even two
hosts with separate stores do not invalidate each other's tokens.

Every documented ``errcode`` maps to its own ``WeChatError`` code; ``session_key`` never leaves
this module's return value and is never sent to clients.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from redis.exceptions import RedisError

from service.auth.errors import ErrorCode
from service.base.exceptions import ServiceError, Upstream
from service.store import SharedStore, StoreUnavailable

log = logging.getLogger("tanhui.wechat")

#: Errcodes and what each means for the caller: (our code, Retry-After seconds).
CODE2SESSION_ERRORS: dict[int, tuple[ErrorCode, int | None]] = {
    40029: (ErrorCode.WECHAT_CODE_INVALID, None),
    40163: (ErrorCode.WECHAT_CODE_USED, None),
    45011: (ErrorCode.WECHAT_RATE_LIMITED, 60),
    40226: (ErrorCode.WECHAT_HIGH_RISK_USER, None),
    -1: (ErrorCode.WECHAT_BUSY, 2),
}
PHONE_ERRORS: dict[int, tuple[ErrorCode, int | None]] = {
    40029: (ErrorCode.WECHAT_PHONE_CODE_INVALID, None),
    -1: (ErrorCode.WECHAT_BUSY, 2),
}
WXACODE_ERRORS: dict[int, tuple[ErrorCode, int | None]] = {
    40169: (ErrorCode.WECHAT_SCENE_INVALID, None),
    41030: (ErrorCode.WECHAT_PAGE_INVALID, None),
    45009: (ErrorCode.WECHAT_RATE_LIMITED, 60),
    -1: (ErrorCode.WECHAT_BUSY, 2),
}
#: Our codes that blame a value the caller sent (the error names its field).
CALLER_VALUE_CODES = frozenset(
    {
        ErrorCode.WECHAT_CODE_INVALID,
        ErrorCode.WECHAT_CODE_USED,
        ErrorCode.WECHAT_PHONE_CODE_INVALID,
        ErrorCode.WECHAT_SCENE_INVALID,
        ErrorCode.WECHAT_PAGE_INVALID,
    }
)
#: ``getwxacodeunlimit``: the scene is at most 32 characters of this set.
SCENE_MAX_CHARS = 32
SCENE_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&'()*+,/:;=?@-._~"
)
WXACODE_WIDTH_PX = 430
#: Errcodes that mean this server's appid, secret or IP are wrong: our fault, not the user's.
CREDENTIAL_ERRCODES = frozenset({40001, 40002, 40013, 40125, 40164, 41002, 41004, 40243})
ACCESS_TOKEN_INVALID_ERRCODES = frozenset({40001, 40014, 42001})


class WeChatError(ServiceError):
    code = ErrorCode.WECHAT_ERROR

    def __init__(
        self,
        code: ErrorCode,
        *,
        upstream: Upstream | None = None,
        errcode: int | None = None,
        retry_after_s: int | None = None,
        field: str | None = None,
    ) -> None:
        headers = {"Retry-After": str(retry_after_s)} if retry_after_s else None
        fields = {field: ["Invalid value."]} if field else None
        super().__init__(
            code=code,
            params={"errcode": errcode},
            headers=headers,
            fields=fields,
            upstream=upstream,
        )
        self.errcode = errcode


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    session_key: str


@dataclass(frozen=True)
class PhoneInfo:
    phone_number: str
    pure_phone_number: str
    country_code: str
    watermark_appid: str


class WeChatClient:
    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        base_url: str,
        timeout_s: float,
        store: SharedStore,
        token_refresh_margin_s: int,
        http: requests.Session | None = None,
    ) -> None:
        if not appid or not secret:
            raise WeChatError(ErrorCode.WECHAT_NOT_CONFIGURED)
        self.appid = appid
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.store = store
        self.token_refresh_margin_s = token_refresh_margin_s
        self.http = http or requests.Session()

    # -- sign-in ------------------------------------------------------------------------------
    def code_to_session(self, code: str) -> WeChatSession:
        payload = self._call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self.appid,
                "secret": self._secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        self._raise_for_errcode(payload, CODE2SESSION_ERRORS, field="code")
        openid = payload.get("openid")
        session_key = payload.get("session_key")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str):
            log.error("jscode2session answered without openid", extra={"keys": sorted(payload)})
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
        unionid = payload.get("unionid")
        return WeChatSession(
            openid=openid,
            unionid=unionid if isinstance(unionid, str) and unionid else None,
            session_key=session_key,
        )

    # -- web pages in WeChat's browser (an official account's web authorisation) ------------------
    def authorize_url(self, oauth_base_url: str, *, redirect_uri: str, state: str) -> str:
        """Where to send a browser for silent ``snsapi_base`` authorisation: WeChat sends it back
        to ``redirect_uri`` with ``code`` and ``state``."""
        query = urlencode(
            {
                "appid": self.appid,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
            }
        )
        return f"{oauth_base_url.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"

    def web_code_to_openid(self, code: str) -> WeChatSession:
        """Exchange a web authorisation code for the reader's openid (``sns/oauth2``)."""
        payload = self._call(
            "GET",
            "/sns/oauth2/access_token",
            params={
                "appid": self.appid,
                "secret": self._secret,
                "code": code,
                "grant_type": "authorization_code",
            },
        )
        self._raise_for_errcode(payload, CODE2SESSION_ERRORS, field="code")
        openid = payload.get("openid")
        if not isinstance(openid, str) or not openid:
            log.error("sns/oauth2 answered without openid", extra={"keys": sorted(payload)})
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
        unionid = payload.get("unionid")
        return WeChatSession(
            openid=openid,
            unionid=unionid if isinstance(unionid, str) and unionid else None,
            session_key="",
        )

    # -- phone -------------------------------------------------------------------------------
    def phone_number(self, code: str) -> PhoneInfo:
        payload = self._with_access_token(
            "POST", "/wxa/business/getuserphonenumber", json_body={"code": code}
        )
        self._raise_for_errcode(payload, PHONE_ERRORS, field="code")
        info = payload.get("phone_info")
        if not isinstance(info, dict):
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
        watermark = info.get("watermark") or {}
        return PhoneInfo(
            phone_number=str(info.get("phoneNumber", "")),
            pure_phone_number=str(info.get("purePhoneNumber", "")),
            country_code=str(info.get("countryCode", "")),
            watermark_appid=str(watermark.get("appid", "")),
        )

    # -- mini-program codes ------------------------------------------------------------------
    def unlimited_code(
        self, scene: str, *, page: str, width_px: int = WXACODE_WIDTH_PX, check_path: bool = True
    ) -> bytes:
        """A mini-program code (``getwxacodeunlimit``) opening ``page`` with ``scene``: image bytes.

        WeChat answers an image on success and JSON with an ``errcode`` on failure."""
        if not 0 < len(scene) <= SCENE_MAX_CHARS or not set(scene) <= SCENE_CHARACTERS:
            raise WeChatError(ErrorCode.WECHAT_SCENE_INVALID, field="scene")
        body = {"scene": scene, "page": page, "width": width_px, "check_path": check_path}
        for attempt in range(2):
            token = self.access_token(force_refresh=attempt > 0)
            response = self._request("POST", "/wxa/getwxacodeunlimit", token, body)
            if response.headers.get("Content-Type", "").startswith("image/"):
                return response.content
            try:
                payload = json.loads(response.text)
            except ValueError as error:
                raise WeChatError(
                    ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER
                ) from error
            if not isinstance(payload, dict):
                raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
            if payload.get("errcode") in ACCESS_TOKEN_INVALID_ERRCODES and attempt == 0:
                if self.store.get(self._token_key) == token:
                    self.store.delete(self._token_key)
                continue
            self._raise_for_errcode(payload, WXACODE_ERRORS, field="scene")
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
        raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)

    def _request(
        self, method: str, path: str, token: str, json_body: dict[str, Any]
    ) -> requests.Response:
        try:
            response = self.http.request(
                method,
                self.base_url + path,
                params={"access_token": token},
                data=json.dumps(json_body),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout_s,
            )
        except requests.Timeout as error:
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.TIMEOUT) from error
        except requests.RequestException as error:
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER) from error
        if response.status_code != 200:
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
        return response

    # -- the shared access token --------------------------------------------------------------
    @property
    def _token_key(self) -> str:
        return f"wechat:access_token:{self.appid}"

    def access_token(self, *, force_refresh: bool = False) -> str:
        """Return the current access token, fetching it once for all workers when missing."""
        if not force_refresh:
            cached = self.store.get(self._token_key)
            if cached:
                return cached
        try:
            with self.store.lock(self._token_key):
                if not force_refresh:
                    cached = self.store.get(self._token_key)
                    if cached:
                        return cached
                payload = self._call(
                    "POST",
                    "/cgi-bin/stable_token",
                    json_body={
                        "grant_type": "client_credential",
                        "appid": self.appid,
                        "secret": self._secret,
                        "force_refresh": force_refresh,
                    },
                )
                self._raise_for_errcode(payload, {})
                token = payload.get("access_token")
                expires_in_s = payload.get("expires_in")
                if not isinstance(token, str) or not isinstance(expires_in_s, int):
                    raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
                ttl_s = max(1, expires_in_s - self.token_refresh_margin_s)
                self.store.set(self._token_key, token, ttl_s)
                return token
        except (TimeoutError, RedisError, StoreUnavailable) as error:
            log.error(
                "shared store failed while fetching the access token", extra={"error": str(error)}
            )
            raise WeChatError(
                ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.UNREACHABLE, retry_after_s=2
            ) from error

    def _with_access_token(
        self, method: str, path: str, *, json_body: dict[str, Any]
    ) -> dict[str, Any]:
        """Call an API that needs the access token; refresh it once if WeChat says it is stale."""
        token = self.access_token()
        payload = self._call(method, path, params={"access_token": token}, json_body=json_body)
        if payload.get("errcode") in ACCESS_TOKEN_INVALID_ERRCODES:
            log.warning("access token rejected; refreshing", extra={"errcode": payload["errcode"]})
            if self.store.get(self._token_key) == token:
                self.store.delete(self._token_key)
            token = self.access_token(force_refresh=self.store.get(self._token_key) is None)
            payload = self._call(method, path, params={"access_token": token}, json_body=json_body)
        return payload

    # -- plumbing ----------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = self.base_url + path
        try:
            response = self.http.request(
                method,
                url,
                params=params,
                data=None if json_body is None else json.dumps(json_body),
                headers={"Content-Type": "application/json"} if json_body is not None else None,
                timeout=self.timeout_s,
            )
        except requests.Timeout as error:
            log.error("wechat timed out", extra={"path": path})
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.TIMEOUT) from error
        except requests.RequestException as error:
            log.error("wechat unreachable", extra={"path": path, "error": type(error).__name__})
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER) from error
        if response.status_code != 200:
            log.error("wechat answered HTTP %s", response.status_code, extra={"path": path})
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
        try:
            # WeChat often labels JSON as text/plain, so parse the text whatever the header says.
            payload = json.loads(response.text)
        except ValueError as error:
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER) from error
        if not isinstance(payload, dict):
            raise WeChatError(ErrorCode.WECHAT_UNAVAILABLE, upstream=Upstream.BAD_ANSWER)
        return payload

    @staticmethod
    def _raise_for_errcode(
        payload: dict[str, Any],
        known: dict[int, tuple[ErrorCode, int | None]],
        *,
        field: str | None = None,
    ) -> None:
        errcode = payload.get("errcode")
        if errcode in (None, 0):
            return
        log.warning("wechat errcode", extra={"errcode": errcode, "errmsg": payload.get("errmsg")})
        if errcode in known:
            code, retry_after_s = known[errcode]
            return_field = field if code in CALLER_VALUE_CODES else None
            raise WeChatError(
                code, errcode=errcode, retry_after_s=retry_after_s, field=return_field
            )
        if errcode == -1:
            raise WeChatError(ErrorCode.WECHAT_BUSY, errcode=errcode, retry_after_s=2)
        if errcode in CREDENTIAL_ERRCODES:
            raise WeChatError(ErrorCode.WECHAT_MISCONFIGURED, errcode=errcode)
        raise WeChatError(ErrorCode.WECHAT_ERROR, errcode=errcode)
