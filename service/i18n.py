"""Messages in zh-CN and en, chosen by ``Accept-Language``.

Error messages are keyed by the error's machine code, so clients branch on the code and show the
message. Field messages come from marshmallow in English; :func:`field_message` renders the ones
the API can produce in Chinese too, parameters included. A test walks both tables so no code or
message lacks a language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import Flask, g, has_request_context, request
from flask_babel import Babel

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
#: Our locale names (BCP 47, as HTTP speaks them) and the gettext catalogue of each.
CATALOGUE_BY_LOCALE = {"zh-CN": "zh_CN", "en": "en"}

#: code -> locale -> message template (``str.format`` with the error's params).
MESSAGES: dict[str, dict[str, str]] = {
    "bad_request": {"en": "The request is malformed.", "zh-CN": "请求格式不正确。"},
    "invalid_json": {
        "en": "The request body is not valid JSON.",
        "zh-CN": "请求体不是有效的 JSON。",
    },
    "authentication_required": {
        "en": "Sign in first: send a bearer access token.",
        "zh-CN": "请先登录：需要携带 Bearer 访问令牌。",
    },
    "token_invalid": {
        "en": "The access token is invalid.",
        "zh-CN": "访问令牌无效。",
    },
    "token_expired": {
        "en": "The access token has expired; refresh it.",
        "zh-CN": "访问令牌已过期，请刷新。",
    },
    "session_revoked": {
        "en": "This sign-in session has ended; sign in again.",
        "zh-CN": "本次登录会话已结束，请重新登录。",
    },
    "refresh_token_invalid": {
        "en": "The refresh token is invalid or expired.",
        "zh-CN": "刷新令牌无效或已过期。",
    },
    "refresh_token_reused": {
        "en": "This refresh token was already used; every session of its family is revoked.",
        "zh-CN": "该刷新令牌已被使用，同一登录链上的所有会话均已注销。",
    },
    "invalid_credentials": {
        "en": "The username or password is wrong.",
        "zh-CN": "用户名或密码错误。",
    },
    "account_locked": {
        "en": "Too many failed sign-ins; try again in {retry_after_s} seconds.",
        "zh-CN": "登录失败次数过多，请在 {retry_after_s} 秒后重试。",
    },
    "account_disabled": {"en": "This account is disabled.", "zh-CN": "该账户已停用。"},
    "csrf_failed": {
        "en": "This form expired or did not come from this site; reload the page and try again.",
        "zh-CN": "表单已过期或并非来自本站，请刷新页面后重试。",
    },
    "forbidden": {
        "en": "You may not do this.",
        "zh-CN": "您无权执行此操作。",
    },
    "role_required": {
        "en": "This needs one of the roles: {roles}.",
        "zh-CN": "此操作需要以下角色之一：{roles}。",
    },
    "not_found": {"en": "Not found.", "zh-CN": "未找到。"},
    "method_not_allowed": {
        "en": "This method is not allowed here.",
        "zh-CN": "此地址不支持该请求方法。",
    },
    "conflict": {
        "en": "The request conflicts with the current state.",
        "zh-CN": "请求与当前状态冲突。",
    },
    "already_exists": {
        "en": "{what} already exists.",
        "zh-CN": "{what}已存在。",
    },
    "phone_taken": {
        "en": "This phone number is bound to another account.",
        "zh-CN": "该手机号已绑定其他账户。",
    },
    "payload_too_large": {
        "en": "The request body is larger than {limit_bytes} bytes.",
        "zh-CN": "请求体超过 {limit_bytes} 字节的上限。",
    },
    "unsupported_media_type": {
        "en": "Send the body as application/json.",
        "zh-CN": "请求体须为 application/json。",
    },
    "validation_failed": {
        "en": "Some fields are invalid.",
        "zh-CN": "部分字段无效。",
    },
    "rate_limited": {
        "en": "Too many requests; try again in {retry_after_s} seconds.",
        "zh-CN": "请求过于频繁，请在 {retry_after_s} 秒后重试。",
    },
    "internal_error": {
        "en": "Something went wrong on our side; quote the request id when reporting it.",
        "zh-CN": "服务器内部错误；反馈时请提供请求编号。",
    },
    "service_unavailable": {
        "en": "The service is temporarily unavailable.",
        "zh-CN": "服务暂时不可用。",
    },
    "wechat_not_configured": {
        "en": "WeChat sign-in is not configured on this server.",
        "zh-CN": "本服务器未配置微信登录。",
    },
    "wechat_code_invalid": {
        "en": "WeChat rejected the login code (errcode 40029); get a new one with wx.login.",
        "zh-CN": "微信登录凭证 code 无效（errcode 40029），请重新调用 wx.login 获取。",
    },
    "wechat_code_used": {
        "en": "This WeChat code was already used (errcode 40163); codes are single-use.",
        "zh-CN": "该微信 code 已被使用（errcode 40163），code 只能使用一次。",
    },
    "wechat_rate_limited": {
        "en": "WeChat is limiting sign-ins (errcode 45011); try again in a minute.",
        "zh-CN": "微信接口调用过于频繁（errcode 45011），请一分钟后重试。",
    },
    "wechat_high_risk_user": {
        "en": "WeChat flagged this account as high risk (errcode 40226); sign-in is refused.",
        "zh-CN": "微信判定该用户为高风险用户（errcode 40226），拒绝登录。",
    },
    "wechat_busy": {
        "en": "WeChat is busy (errcode -1); try again shortly.",
        "zh-CN": "微信系统繁忙（errcode -1），请稍后重试。",
    },
    "wechat_phone_code_invalid": {
        "en": "WeChat rejected the phone code (errcode 40029); ask the user to authorise again.",
        "zh-CN": "手机号授权 code 无效（errcode 40029），请重新授权。",
    },
    "wechat_misconfigured": {
        "en": "WeChat rejected this server's credentials (errcode {errcode}).",
        "zh-CN": "微信拒绝了本服务器的凭据（errcode {errcode}）。",
    },
    "wechat_error": {
        "en": "WeChat answered with errcode {errcode}.",
        "zh-CN": "微信接口返回错误（errcode {errcode}）。",
    },
    "wechat_unavailable": {
        "en": "WeChat could not be reached.",
        "zh-CN": "无法连接微信服务器。",
    },
    "idempotency_conflict": {
        "en": "This idempotency key was used for a different request ({field} differs).",
        "zh-CN": "该幂等键已用于不同的请求（{field} 不同）。",
    },
    "account_not_found": {
        "en": "No such ledger account: {detail}.",
        "zh-CN": "账户不存在：{detail}。",
    },
    "account_conflict": {
        "en": "The account exists with other terms ({field}).",
        "zh-CN": "该账户已存在且条件不同（{field}）。",
    },
    "asset_mismatch": {
        "en": "The accounts hold different assets.",
        "zh-CN": "账户资产类型不一致。",
    },
    "unbalanced": {
        "en": "The postings do not sum to zero per asset: {detail}.",
        "zh-CN": "分录各资产借贷合计不为零：{detail}。",
    },
    "amount_invalid": {
        "en": "Amounts are non-zero whole numbers within the limit.",
        "zh-CN": "金额须为限额内的非零整数。",
    },
    "entry_invalid": {
        "en": "The entry is malformed: {detail}.",
        "zh-CN": "分录格式不正确：{detail}。",
    },
    "insufficient_funds": {
        "en": "Not enough available balance: {detail}.",
        "zh-CN": "可用余额不足：{detail}。",
    },
    "lot_invalid": {"en": "The lot cannot be used: {detail}.", "zh-CN": "批次不可用：{detail}。"},
    "hold_not_found": {"en": "No such hold.", "zh-CN": "预留不存在。"},
    "hold_not_pending": {
        "en": "The hold is no longer pending ({detail}).",
        "zh-CN": "该预留已不在待处理状态（{detail}）。",
    },
    "hold_expired": {"en": "The hold expired at {detail}.", "zh-CN": "该预留已于 {detail} 过期。"},
    "hold_amount_exceeded": {
        "en": "More than the hold reserved: {detail}.",
        "zh-CN": "超出预留金额：{detail}。",
    },
    "entry_not_found": {"en": "No such entry.", "zh-CN": "分录不存在。"},
    "already_reversed": {"en": "The entry was already reversed.", "zh-CN": "该分录已被冲正。"},
    "batch_too_large": {"en": "Too many entries in one batch.", "zh-CN": "单批分录过多。"},
    "wechat_scene_invalid": {
        "en": "WeChat refused the mini-program code's scene.",
        "zh-CN": "微信拒绝了小程序码的 scene 参数。",
    },
    "wechat_page_invalid": {
        "en": "The mini-program page is not published.",
        "zh-CN": "小程序页面未发布。",
    },
    "lot_state_conflict": {
        "en": "The lot is {status}; that cannot be done now.",
        "zh-CN": "该批次当前状态为 {status}，无法执行此操作。",
    },
    "label_not_certified": {
        "en": "The label is not certified (it is {status}).",
        "zh-CN": "该标签未获认证（当前状态：{status}）。",
    },
    "wechatpay_not_configured": {
        "en": "WeChat Pay is not set up on this server; pay by bank transfer.",
        "zh-CN": "本服务未配置微信支付，请使用银行转账。",
    },
    "wechatpay_unavailable": {
        "en": "WeChat Pay could not be reached; try again shortly.",
        "zh-CN": "暂时无法连接微信支付，请稍后重试。",
    },
    "claim_code_invalid": {
        "en": "This code cannot be claimed: it is not a genuine unit code.",
        "zh-CN": "此码无法领取积分：不是真实的产品码。",
    },
    "claim_code_revoked": {
        "en": "This code's label is not valid ({status}); it earns no points.",
        "zh-CN": "此码对应的标签无效（{status}），不能领取积分。",
    },
    "unit_already_claimed": {
        "en": "This unit has been claimed already.",
        "zh-CN": "该件产品的积分已被领取。",
    },
    "points_rule_missing": {
        "en": "No points rule is in force for this yet.",
        "zh-CN": "暂无适用的积分规则。",
    },
    "practice_duplicate": {
        "en": "This plot already has a record of this practice for the season.",
        "zh-CN": "该地块本季已登记过这项措施。",
    },
    "practice_decided": {
        "en": "The record has been decided already ({status}).",
        "zh-CN": "该记录已审核（{status}）。",
    },
    "item_code_taken": {
        "en": "Another catalogue item has this code.",
        "zh-CN": "该编码已被其他兑换商品使用。",
    },
    "item_unavailable": {
        "en": "This item is not available now.",
        "zh-CN": "该商品暂不可兑换。",
    },
    "item_not_for_party": {
        "en": "This item is for {audience} accounts only.",
        "zh-CN": "该商品仅限 {audience} 账户兑换。",
    },
    "redemption_limit_reached": {
        "en": "At most {limit} of this item per account; {ordered} ordered already.",
        "zh-CN": "每个账户最多兑换 {limit} 件，已兑换 {ordered} 件。",
    },
    "points_insufficient": {
        "en": "Not enough points.",
        "zh-CN": "积分不足。",
    },
    "out_of_stock": {
        "en": "Not enough in stock.",
        "zh-CN": "库存不足。",
    },
    "order_state_conflict": {
        "en": "The order is {status}; that cannot be done now.",
        "zh-CN": "该订单当前状态为 {status}，无法执行此操作。",
    },
    "payout_state_conflict": {
        "en": "The payout is {status}; that cannot be done now.",
        "zh-CN": "该兑付申请当前状态为 {status}，无法执行此操作。",
    },
    "payouts_none_to_export": {
        "en": "No approved payouts are waiting for this method.",
        "zh-CN": "没有待导出的已批准兑付。",
    },
    "flag_resolved": {
        "en": "The flag has been closed already ({status}).",
        "zh-CN": "该异常标记已处理（{status}）。",
    },
    "gtin_taken": {
        "en": "Another product has this GTIN.",
        "zh-CN": "该 GTIN 已属于其他产品。",
    },
    "publication_status_refused": {
        "en": "A page cannot go from {from} to {to}.",
        "zh-CN": "页面状态不能从 {from} 变为 {to}。",
    },
    "label_transition_refused": {
        "en": "A label cannot go from {from} to {to}.",
        "zh-CN": "标签状态不能从 {from} 变为 {to}。",
    },
    "label_benchmark_not_met": {
        "en": "The footprint does not beat the category benchmark: {detail}.",
        "zh-CN": "碳足迹未低于品类基准：{detail}。",
    },
    "credit_import_rejected": {
        "en": "The credit file was not imported: {count} problems, listed by row and field.",
        "zh-CN": "碳汇文件未导入：共 {count} 处问题，已按行和字段列出。",
    },
    "credit_registry_not_found": {
        "en": "No such registry: {detail}.",
        "zh-CN": "登记簿不存在：{detail}。",
    },
    "credit_batch_not_found": {
        "en": "No such credit batch: {detail}.",
        "zh-CN": "碳汇批次不存在：{detail}。",
    },
    "credit_retirement_invalid": {
        "en": "The retirement cannot be recorded: {detail}.",
        "zh-CN": "无法登记注销：{detail}。",
    },
    "credit_retirement_not_found": {
        "en": "No such retirement: {detail}.",
        "zh-CN": "注销记录不存在：{detail}。",
    },
    "credits_insufficient": {
        "en": "Not enough credits: {detail}.",
        "zh-CN": "碳汇数量不足：{detail}。",
    },
    "credit_allocation_invalid": {
        "en": "The allocation cannot be made: {detail}.",
        "zh-CN": "无法分配：{detail}。",
    },
    "organisation_invalid": {
        "en": "The organisation does not fit its kind: {reason}",
        "zh-CN": "组织信息与其类型不符：{reason}",
    },
}

#: marshmallow's and our validators' English field messages, as patterns, with Chinese templates.
_FIELD_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern), zh)
    for pattern, zh in [
        (r"Missing data for required field\.", "缺少必填字段。"),
        (r"Field may not be null\.", "字段不能为空值。"),
        (r"Unknown field\.", "未知字段。"),
        (r"Invalid value\.", "值无效。"),
        (r"Invalid input type\.", "输入类型无效。"),
        (r"Not a valid string\.", "不是有效的字符串。"),
        (r"Not a valid integer\.", "不是有效的整数。"),
        (r"Not a valid number\.", "不是有效的数字。"),
        (r"Number too large\.", "数值过大。"),
        (r"Not a valid boolean\.", "不是有效的布尔值。"),
        (r"Not a valid email address\.", "不是有效的电子邮箱地址。"),
        (r"Not a valid datetime\.", "不是有效的日期时间。"),
        (r"Not a valid date\.", "不是有效的日期。"),
        (r"Not a valid list\.", "不是有效的列表。"),
        (r"Not a valid mapping type\.", "不是有效的对象。"),
        (r"Not a valid URL\.", "不是有效的网址。"),
        (r"Not a valid UUID\.", "不是有效的 UUID。"),
        (r"String does not match expected pattern\.", "格式不符合要求。"),
        (r"Shorter than minimum length (?P<min>\d+)\.", "长度不能少于 {min}。"),
        (r"Longer than maximum length (?P<max>\d+)\.", "长度不能超过 {max}。"),
        (
            r"Length must be between (?P<min>\d+) and (?P<max>\d+)\.",
            "长度须在 {min} 到 {max} 之间。",
        ),
        (r"Length must be (?P<equal>\d+)\.", "长度须为 {equal}。"),
        (
            r"Must be greater than or equal to (?P<min>\S+)"
            r" and less than or equal to (?P<max>\S+)\.",
            "须大于等于 {min} 且小于等于 {max}。",
        ),
        (r"Must be greater than or equal to (?P<min>\S+)\.", "须大于等于 {min}。"),
        (r"Must be less than or equal to (?P<max>\S+)\.", "须小于等于 {max}。"),
        (r"Must be one of: (?P<choices>.+)\.", "须为以下之一：{choices}。"),
        (r"Must be between (?P<low>\S+) and (?P<high>\S+)\.", "须在 {low} 到 {high} 之间。"),
        (r"Must be a multiple of (?P<n>\d+)\.", "须为 {n} 的整数倍。"),
        (r"At least (?P<n>\d+)\.", "至少为 {n}。"),
        (r"At most (?P<n>\d+) more\.", "最多还能兑换 {n} 件。"),
        (r"Not enough points\.", "积分不足。"),
        (r"Not enough in stock\.", "库存不足。"),
        (r"Must be an approved farm or cooperative\.", "须为已审核的农场或合作社。"),
        (r"Must be an approved farm or enterprise\.", "须为已审核的农场或企业。"),
        (r"Must drain more than the baseline\.", "须比基线排水更多。"),
        (r"Must be below the baseline rate\.", "须低于基线施氮量。"),
        (r"Required for bank transfers\.", "银行转账必填。"),
        (r"Required for staff orders\.", "机构兑换必填。"),
        (r"No such party\.", "对象不存在。"),
        (r"Not a valid unified social credit code\.", "不是有效的统一社会信用代码。"),
        (r"Not a known GB/T 2260 region code\.", "不是已知的 GB/T 2260 行政区划代码。"),
        (r"Required for (?P<kind>\w+) organisations\.", "{kind} 类组织必须填写。"),
        (r"Not allowed for (?P<kind>\w+) organisations\.", "{kind} 类组织不可填写。"),
        (r"Not a valid mainland China mobile number\.", "不是有效的中国大陆手机号码。"),
        (r"Password must be at least (?P<min>\d+) characters\.", "密码至少需要 {min} 个字符。"),
        (r"Must not contain control characters\.", "不能包含控制字符。"),
        # Credit import files (ledger.credit_files, ledger.credits).
        (r"required text", "必填文本"),
        (r"longer than (?P<n>\d+) characters", "超过 {n} 个字符"),
        (r"control characters", "含有控制字符"),
        (r"not a whole number", "不是整数"),
        (r"outside (?P<low>\d+)\.\.(?P<high>\d+)", "超出 {low} 至 {high} 的范围"),
        (r"not a percentage", "不是百分比"),
        (r"a share is more than 0 and at most 100 percent", "份额须大于 0 且不超过 100%"),
        (r"at most four decimals", "最多四位小数"),
        (r"unknown GB/T 2260 region code", "未知的 GB/T 2260 行政区划代码"),
        (r"before serial_start", "早于起始序列号"),
        (r"the serial range holds (?P<n>\d+) tonnes", "序列号区间对应 {n} 吨"),
        (r"not a farm of this project", "不是本项目的农场"),
        (r"repeats a farm of this project", "与本项目已列农场重复"),
        (r"farm shares add up to (?P<p>\S+)%, not 100%", "农场份额合计 {p}%，不是 100%"),
        (r"in the future \(after (?P<year>\d+)\)", "晚于当前年份（{year} 年之后）"),
        (
            r"(?P<w>overlaps|repeats) serials (?P<r>\S+) of (?P<row>.+)",
            "与 {row} 的序列号 {r} 重叠",
        ),
        (
            r"(overlaps|repeats with other terms) stored batch (?P<id>\d+) \(serials (?P<r>\S+)\)",
            "与已登记批次 {id}（序列号 {r}）冲突",
        ),
        (r"wrong number of columns", "列数不正确"),
        (r"missing columns: (?P<names>.+)", "缺少列：{names}"),
        (r"not UTF-8 text", "不是 UTF-8 文本"),
        (r"a non-empty list", "须为非空列表"),
        (r"whole tonnes, more than 0", "须为大于 0 的整吨数"),
        (r"whole grams, more than 0", "须为大于 0 的整克数"),
        (r"in the future", "晚于今天"),
        (r"1 to (?P<n>\d+) characters", "须为 1 至 {n} 个字符"),
    ]
]


def negotiate_locale(accept_language: object | None) -> str:
    """Pick zh-CN or en from a werkzeug ``LanguageAccept``; zh-CN when nothing matches."""
    if accept_language is None:
        return DEFAULT_LOCALE
    best = accept_language.best_match(["zh-CN", "zh", "en"])  # type: ignore[attr-defined]
    if best is None:
        return DEFAULT_LOCALE
    return "en" if best.startswith("en") else "zh-CN"


def error_message(code: str, locale: str, params: Mapping[str, object] | None = None) -> str:
    templates = MESSAGES.get(code) or MESSAGES["internal_error"]
    template = templates.get(locale) or templates["en"]
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError):
        return template


def field_message(message: str, locale: str) -> str:
    """Render one English field message in ``locale``; unknown messages stay as they are."""
    if locale == "en":
        return message
    for pattern, template in _FIELD_MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            return template.format(**match.groupdict())
    return message


def request_locale() -> str:
    """The locale of this request: what a page or the API chose (``g.lang``), else what the
    client's ``Accept-Language`` asks for; zh-CN outside a request."""
    if not has_request_context():
        return DEFAULT_LOCALE
    return g.get("lang") or negotiate_locale(
        request.accept_languages if request.headers.get("Accept-Language") else None
    )


def init_app(app: Flask) -> None:
    """Flask-Babel over the catalogues in ``service/translations``; times in Beijing time."""
    Babel(
        app,
        locale_selector=lambda: CATALOGUE_BY_LOCALE[request_locale()],
        default_locale=CATALOGUE_BY_LOCALE[DEFAULT_LOCALE],
        default_timezone="Asia/Shanghai",
    )
