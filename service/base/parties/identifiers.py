"""Identifiers of parties: unified social credit codes, GB/T 2260 region codes, phone numbers.

Pure functions; each returns the normalised value or raises ``ValueError`` with the field message
the API shows.
"""

from __future__ import annotations

import re

from stdnum.cn import uscc as _uscc

from service.base.exceptions import FieldMessage

#: GB/T 2260 administrative divisions the service knows: the provinces of the Yangtze River Delta,
#: the prefectures of the demonstration zone, and the districts and counties around it. The three
#: pilot areas are Qingpu 310118, Wujiang 320509 and Jiashan 330421. Source: GB/T 2260 as published
#: by the Ministry of Civil Affairs (county-level codes, 2023 edition).
REGION_NAMES_ZH: dict[str, str] = {
    "310000": "上海市",
    "320000": "江苏省",
    "330000": "浙江省",
    "340000": "安徽省",
    "320500": "江苏省苏州市",
    "330400": "浙江省嘉兴市",
    "310101": "上海市黄浦区",
    "310104": "上海市徐汇区",
    "310105": "上海市长宁区",
    "310106": "上海市静安区",
    "310107": "上海市普陀区",
    "310109": "上海市虹口区",
    "310110": "上海市杨浦区",
    "310112": "上海市闵行区",
    "310113": "上海市宝山区",
    "310114": "上海市嘉定区",
    "310115": "上海市浦东新区",
    "310116": "上海市金山区",
    "310117": "上海市松江区",
    "310118": "上海市青浦区",
    "310120": "上海市奉贤区",
    "310151": "上海市崇明区",
    "320505": "江苏省苏州市虎丘区",
    "320506": "江苏省苏州市吴中区",
    "320507": "江苏省苏州市相城区",
    "320508": "江苏省苏州市姑苏区",
    "320509": "江苏省苏州市吴江区",
    "320581": "江苏省常熟市",
    "320582": "江苏省张家港市",
    "320583": "江苏省昆山市",
    "320585": "江苏省太仓市",
    "330402": "浙江省嘉兴市南湖区",
    "330411": "浙江省嘉兴市秀洲区",
    "330421": "浙江省嘉兴市嘉善县",
    "330424": "浙江省嘉兴市海盐县",
    "330481": "浙江省海宁市",
    "330482": "浙江省平湖市",
    "330483": "浙江省桐乡市",
}
PILOT_REGION_CODES = ("310118", "320509", "330421")

USCC_MESSAGE = FieldMessage("Not a valid unified social credit code.")
REGION_MESSAGE = FieldMessage("Not a known GB/T 2260 region code.")
PHONE_MESSAGE = FieldMessage("Not a valid mainland China mobile number.")
_MOBILE = re.compile(r"1[3-9]\d{9}")


def normalise_uscc(value: str) -> str:
    """Return the 18-character code in upper case, or raise ``ValueError``.

    >>> normalise_uscc(" 91110000600037341l ")
    '91110000600037341L'
    """
    compact = _uscc.compact(value or "")
    if not _uscc.is_valid(compact):
        raise ValueError(USCC_MESSAGE)
    return compact


def normalise_region_code(value: str) -> str:
    """Return a known GB/T 2260 code, or raise ``ValueError``.

    >>> normalise_region_code("310118")
    '310118'
    """
    code = (value or "").strip()
    if code not in REGION_NAMES_ZH:
        raise ValueError(REGION_MESSAGE)
    return code


def normalise_mobile(value: str) -> str:
    """Return an 11-digit mainland mobile number, dropping a +86 prefix, or raise ``ValueError``.

    >>> normalise_mobile("+86 138-0013-8000")
    '13800138000'
    """
    digits = re.sub(r"[\s-]", "", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _MOBILE.fullmatch(digits):
        raise ValueError(PHONE_MESSAGE)
    return digits
