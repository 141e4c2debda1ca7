"""A local WeChat server speaking the documented mini-program protocol (for tests only).

It keeps what the real one keeps: login codes are single-use and bound to an openid (and maybe a
unionid); access tokens from ``stable_token`` live ``expires_in`` seconds and stay the same for
every caller until forced; phone codes are single-use. Tests can queue errcodes for any path, and
read how often each path was called.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter, defaultdict, deque
from typing import Any
from urllib.parse import urlencode

from werkzeug import Request, Response

ACCESS_TOKEN_EXPIRES_IN_S = 7200


class FakeWeChat:
    def __init__(
        self,
        httpserver: Any,
        *,
        appid: str,
        secret: str,
        web_appid: str = "wx-web-test",
        web_secret: str = "web-secret-test",
    ) -> None:
        self.server = httpserver
        self.appid = appid
        self.secret = secret
        # The official account, whose web authorisation signs readers in in WeChat's browser.
        self.web_appid = web_appid
        self.web_secret = web_secret
        #: Who is using WeChat's browser: the openid web authorisation hands out codes for.
        self.web_reader = ("o-web-reader", None)
        self.web_codes: dict[str, tuple[str, str | None]] = {}
        self.calls: Counter[str] = Counter()
        self.login_codes: dict[str, tuple[str, str | None]] = {}
        self.used_codes: set[str] = set()
        self.phone_codes: dict[str, str] = {}
        self.access_token: str | None = None
        self.errors: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self.content_type = "text/plain"  # WeChat labels its JSON text/plain
        self.token_delay_s = 0.0  # widen the window in which workers could race to refresh
        self._lock = threading.Lock()
        self.pages = {"pages/scan/index"}  # the mini-program's published pages
        self.codes_made: list[dict[str, Any]] = []
        for path, handler in (
            ("/sns/jscode2session", self._jscode2session),
            ("/cgi-bin/stable_token", self._stable_token),
            ("/wxa/business/getuserphonenumber", self._phone_number),
            ("/wxa/getwxacodeunlimit", self._unlimited_code),
            ("/connect/oauth2/authorize", self._authorize),
            ("/sns/oauth2/access_token", self._web_access_token),
        ):
            httpserver.expect_request(path).respond_with_handler(handler)

    @property
    def base_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    # -- what tests set up -------------------------------------------------------------------------
    def issue_code(self, openid: str, *, unionid: str | None = None) -> str:
        code = secrets.token_hex(16)
        self.login_codes[code] = (openid, unionid)
        return code

    def issue_phone_code(self, phone: str = "13800138000") -> str:
        code = secrets.token_hex(16)
        self.phone_codes[code] = phone
        return code

    def fail_next(self, path: str, errcode: int, errmsg: str = "error") -> None:
        self.errors[path].append({"errcode": errcode, "errmsg": errmsg})

    # -- the protocol ------------------------------------------------------------------------------
    def _answer(self, body: dict[str, Any]) -> Response:
        return Response(json.dumps(body), status=200, content_type=self.content_type)

    def _queued_error(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            self.calls[path] += 1
            return self.errors[path].popleft() if self.errors[path] else None

    def _jscode2session(self, request: Request) -> Response:
        error = self._queued_error("/sns/jscode2session")
        if error:
            return self._answer(error)
        args = request.args
        if args.get("appid") != self.appid or args.get("secret") != self.secret:
            return self._answer({"errcode": 40013, "errmsg": "invalid appid"})
        if args.get("grant_type") != "authorization_code":
            return self._answer({"errcode": 40002, "errmsg": "invalid grant_type"})
        code = args.get("js_code", "")
        with self._lock:
            if code in self.used_codes:
                return self._answer({"errcode": 40163, "errmsg": "code been used"})
            if code not in self.login_codes:
                return self._answer({"errcode": 40029, "errmsg": "invalid code"})
            self.used_codes.add(code)
            openid, unionid = self.login_codes.pop(code)
        body = {"openid": openid, "session_key": secrets.token_urlsafe(16)}
        if unionid:
            body["unionid"] = unionid
        return self._answer(body)

    def _authorize(self, request: Request) -> Response:
        """Silent ``snsapi_base`` authorisation: straight back to ``redirect_uri`` with a code for
        the reader and the caller's ``state``."""
        args = request.args
        if args.get("appid") != self.web_appid:
            return Response("appid invalid (10003)", status=200, content_type="text/html")
        if args.get("response_type") != "code" or args.get("scope") not in (
            "snsapi_base",
            "snsapi_userinfo",
        ):
            return Response("scope invalid (10005)", status=200, content_type="text/html")
        redirect_uri = args.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            return Response("redirect_uri invalid (10003)", status=200, content_type="text/html")
        code = secrets.token_hex(16)
        with self._lock:
            self.calls["/connect/oauth2/authorize"] += 1
            self.web_codes[code] = self.web_reader
        separator = "&" if "?" in redirect_uri else "?"
        query = urlencode({"code": code, "state": args.get("state", "")})
        target = f"{redirect_uri}{separator}{query}"
        return Response(status=302, headers={"Location": target})

    def _web_access_token(self, request: Request) -> Response:
        error = self._queued_error("/sns/oauth2/access_token")
        if error:
            return self._answer(error)
        args = request.args
        if args.get("appid") != self.web_appid or args.get("secret") != self.web_secret:
            return self._answer({"errcode": 40125, "errmsg": "invalid appsecret"})
        if args.get("grant_type") != "authorization_code":
            return self._answer({"errcode": 40002, "errmsg": "invalid grant_type"})
        code = args.get("code", "")
        with self._lock:
            if code in self.used_codes:
                return self._answer({"errcode": 40163, "errmsg": "code been used"})
            if code not in self.web_codes:
                return self._answer({"errcode": 40029, "errmsg": "invalid code"})
            self.used_codes.add(code)
            openid, unionid = self.web_codes.pop(code)
        body = {
            "access_token": "WEB_" + secrets.token_hex(16),
            "expires_in": ACCESS_TOKEN_EXPIRES_IN_S,
            "refresh_token": "REFRESH_" + secrets.token_hex(16),
            "openid": openid,
            "scope": "snsapi_base",
        }
        if unionid:
            body["unionid"] = unionid
        return self._answer(body)

    def _stable_token(self, request: Request) -> Response:
        error = self._queued_error("/cgi-bin/stable_token")
        if error:
            return self._answer(error)
        if request.method != "POST":
            return Response("method not allowed", status=405)
        body = json.loads(request.get_data() or b"{}")
        if self.token_delay_s:
            time.sleep(self.token_delay_s)
        if body.get("appid") != self.appid or body.get("secret") != self.secret:
            return self._answer({"errcode": 40125, "errmsg": "invalid appsecret"})
        with self._lock:
            if self.access_token is None or body.get("force_refresh"):
                self.access_token = "ACCESS_" + secrets.token_hex(20)
            token = self.access_token
        return self._answer({"access_token": token, "expires_in": ACCESS_TOKEN_EXPIRES_IN_S})

    def expire_access_token(self) -> None:
        """WeChat-side invalidation: the cached token now gets errcode 40001."""
        with self._lock:
            self.access_token = "ACCESS_" + secrets.token_hex(20)

    def _phone_number(self, request: Request) -> Response:
        error = self._queued_error("/wxa/business/getuserphonenumber")
        if error:
            return self._answer(error)
        if request.args.get("access_token") != self.access_token:
            return self._answer(
                {
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid or not latest",
                }
            )
        code = json.loads(request.get_data() or b"{}").get("code", "")
        with self._lock:
            phone = self.phone_codes.pop(code, None)
        if phone is None:
            return self._answer({"errcode": 40029, "errmsg": "invalid code"})
        return self._answer(
            {
                "errcode": 0,
                "errmsg": "ok",
                "phone_info": {
                    "phoneNumber": phone,
                    "purePhoneNumber": phone,
                    "countryCode": "86",
                    "watermark": {"timestamp": 1700000000, "appid": self.appid},
                },
            }
        )

    def _unlimited_code(self, request: Request) -> Response:
        error = self._queued_error("/wxa/getwxacodeunlimit")
        if error:
            return self._answer(error)
        if request.args.get("access_token") != self.access_token:
            return self._answer({"errcode": 40001, "errmsg": "invalid credential"})
        body = json.loads(request.get_data() or b"{}")
        scene = body.get("scene", "")
        if not 0 < len(scene) <= 32:
            return self._answer({"errcode": 40169, "errmsg": "invalid length for scene"})
        if body.get("check_path", True) and body.get("page") not in self.pages:
            return self._answer({"errcode": 41030, "errmsg": "invalid page"})
        self.codes_made.append(body)
        # A real "sun code" is a JPEG or PNG; any image stands in for it here.
        return Response(_tiny_png(), status=200, content_type="image/png")


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (43, 43), 1).save(buffer, format="PNG")
    return buffer.getvalue()
