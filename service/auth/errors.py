"""The frame's own error codes: sign-in, and the WeChat and WeChat Pay adapters.

One closed set, as each domain package has its own; ``service.errors`` maps each to its HTTP
status (the ``_SIGN_IN`` section) and a test checks that every code has one. Clients branch on
these strings, so a value never changes once answered.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    # -- tokens and sign-in sessions
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - a code, not a secret
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a code, not a secret
    SESSION_REVOKED = "session_revoked"
    REFRESH_TOKEN_INVALID = "refresh_token_invalid"  # noqa: S105 - a code, not a secret
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 - a code, not a secret
    # -- passwords and accounts
    INVALID_CREDENTIALS = "invalid_credentials"
    SIGN_IN_THROTTLED = "sign_in_throttled"
    CHALLENGE_REQUIRED = "challenge_required"
    ACCOUNT_DISABLED = "account_disabled"
    PHONE_TAKEN = "phone_taken"
    # -- the WeChat adapter (mini-program and official account)
    WECHAT_NOT_CONFIGURED = "wechat_not_configured"
    WECHAT_CODE_INVALID = "wechat_code_invalid"
    WECHAT_CODE_USED = "wechat_code_used"
    WECHAT_RATE_LIMITED = "wechat_rate_limited"
    WECHAT_HIGH_RISK_USER = "wechat_high_risk_user"
    WECHAT_BUSY = "wechat_busy"
    WECHAT_PHONE_CODE_INVALID = "wechat_phone_code_invalid"
    WECHAT_MISCONFIGURED = "wechat_misconfigured"
    WECHAT_ERROR = "wechat_error"
    WECHAT_UNAVAILABLE = "wechat_unavailable"
    WECHAT_SCENE_INVALID = "wechat_scene_invalid"
    WECHAT_PAGE_INVALID = "wechat_page_invalid"
    # -- the WeChat Pay adapter
    WECHATPAY_NOT_CONFIGURED = "wechatpay_not_configured"
    WECHATPAY_UNAVAILABLE = "wechatpay_unavailable"
