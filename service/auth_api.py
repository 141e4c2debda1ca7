"""Sign-in endpoints: WeChat mini-program, staff password, refresh, logout, phone binding.

They sit beside ``service.auth``, not in it: they use the app's extensions (rate limits, the
WeChat client), and the extensions stand on ``service.auth`` (the WeChat adapter, and who is
signed in for per-user limits). Inside the package, the two would import each other.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from service.auth import services
from service.auth.authz import authenticated, requires, token_settings
from service.auth.models import RevokeReason
from service.auth.schemas import (
    PasswordSignInSchema,
    RefreshSchema,
    TokensSchema,
    UserSchema,
    WeChatCodeSchema,
)
from service.base.parties.services import user_get
from service.db import get_session, utcnow
from service.extensions import rate_limited, wechat_client

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
        """Staff sign-in with username and password; repeated failures lock the account."""
        config = current_app.config
        return services.sign_in_password(
            get_session(),
            username=body["username"],
            password=body["password"],
            settings=token_settings(),
            now=utcnow(),
            max_failures=config["PASSWORD_MAX_FAILURES"],
            lockout_s=config["PASSWORD_LOCKOUT_S"],
        )


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
