"""Sign-in endpoints: WeChat mini-program, staff password, refresh, logout, phone binding.

They sit beside ``service.auth``, not in it: they use the app's extensions (rate limits, the
WeChat client), and the extensions stand on ``service.auth`` (the WeChat adapter, and who is
signed in for per-user limits). Inside the package, the two would import each other.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from service.auth import services
from service.auth.attempts import attempt_challenge, attempt_load
from service.auth.authz import authenticated, password_policy, requires, token_settings
from service.auth.models import RevokeReason
from service.auth.schemas import (
    ChallengeRequestSchema,
    ChallengeSchema,
    PasswordSignInSchema,
    RefreshSchema,
    TokensSchema,
    UserSchema,
    WeChatCodeSchema,
)
from service.base.parties.services import user_get
from service.db import get_session, utcnow
from service.extensions import client_address, rate_limited, wechat_client

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign-in and tokens.")


@blp.route("/wechat")
class WeChatSignIn(MethodView):
    decorators = [rate_limited("RATELIMIT_SIGN_IN")]

    @blp.arguments(WeChatCodeSchema)
    @blp.response(200, TokensSchema)
    def post(self, body: dict) -> services.SignIn:
        """Sign in from a mini-program with a ``wx.login`` code.

        The server exchanges the code through ``jscode2session``, finds or creates the user by
        openid or unionid, and returns tokens. ``session_key`` never leaves the server.
        """
        return services.sign_in_wechat(
            get_session(),
            client=wechat_client(),
            code=body["code"],
            settings=token_settings(),
            now=utcnow(),
        )


@blp.route("/wechat/phone")
class WeChatPhone(MethodView):
    decorators = [rate_limited("RATELIMIT_SIGN_IN")]

    @blp.arguments(WeChatCodeSchema)
    @blp.response(200, UserSchema)
    @requires()
    def post(self, body: dict):
        """Bind the signed-in user's phone number from a ``getPhoneNumber`` code."""
        return services.phone_bind_wechat(
            get_session(),
            client=wechat_client(),
            user_id=authenticated().user_id,
            code=body["code"],
        )


@blp.route("/password")
class PasswordSignIn(MethodView):
    decorators = [rate_limited("RATELIMIT_SIGN_IN")]

    @blp.arguments(PasswordSignInSchema)
    @blp.response(200, TokensSchema)
    def post(self, body: dict) -> services.SignIn:
        """Staff sign-in with username and password.

        Failures never lock the account. After a few from one address at one name, that address
        waits, longer with each (429 ``sign_in_throttled``, ``Retry-After``); after many at one
        name from anywhere, each try must carry a solved ``challenge`` and its
        ``challenge_answer`` (401 ``challenge_required``, with a fresh challenge in the
        ``Sign-In-Challenge`` header; see ``/auth/password/challenge``). Names that exist and
        names that do not answer alike.
        """
        return services.sign_in_password(
            get_session(),
            attempt=services.PasswordTry(address=client_address(), **body),
            policy=password_policy(),
            settings=token_settings(),
            now=utcnow(),
        )


@blp.route("/password/challenge")
class PasswordChallenge(MethodView):
    decorators = [rate_limited("RATELIMIT_SIGN_IN")]

    @blp.arguments(ChallengeRequestSchema)
    @blp.response(200, ChallengeSchema)
    def post(self, body: dict) -> dict:
        """A proof-of-work challenge for signing in as ``username`` from this address.

        Find decimal digits ``answer`` such that SHA-256 of ``challenge + ":" + answer`` begins
        with ``bits`` zero bits (try 0, 1, 2, ...), then send both with the password. The
        challenge is bound to the name, this address and its failures, and expires; any name
        gets one, whether or not it exists. Format: ``service/auth/challenges.py``.
        """
        policy, now = password_policy(), utcnow()
        attempt = attempt_load(
            get_session(), policy, username=body["username"], address=client_address(), now=now
        )
        return {
            "challenge": attempt_challenge(policy, attempt, now=now),
            "bits": policy.challenge_bits,
            "expires_in": policy.challenge_ttl_s,
        }


@blp.route("/refresh")
class Refresh(MethodView):
    decorators = [rate_limited("RATELIMIT_SIGN_IN")]

    @blp.arguments(RefreshSchema)
    @blp.response(200, TokensSchema)
    def post(self, body: dict) -> services.SignIn:
        """Trade a refresh token for new tokens. Each refresh token works once; presenting a
        used one revokes its whole session."""
        return services.tokens_refresh(
            get_session(),
            refresh_token=body["refresh_token"],
            settings=token_settings(),
            now=utcnow(),
        )


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    @requires()
    def post(self) -> None:
        """End this sign-in session: its refresh tokens and access tokens stop working."""
        principal = authenticated()
        assert principal.session_id is not None
        services.session_revoke(
            get_session(),
            session_id=principal.session_id,
            reason=RevokeReason.SIGNED_OUT,
            now=utcnow(),
        )


me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user.")


@me_blp.route("")
class Me(MethodView):
    @me_blp.response(200, UserSchema)
    @requires()
    def get(self):
        """The signed-in user and the roles they hold."""
        return user_get(get_session(), authenticated().user_id)
