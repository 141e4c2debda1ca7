"""The markets where a labelled product is sold, and which claims each market's law allows.

A market is an ISO 3166-1 alpha-2 country code (``CN`` is mainland China, the pilot's home
market; Hong Kong and Macao are ``HK`` and ``MO``; Greece is ``GR``, not the EU's own ``EL``), or
``EU`` for the European Union's single market as a whole. The list is closed: a market is added
here, with its name in ``service.i18n.names``, once someone has read what its law says of carbon
claims.

Directive (EU) 2024/825 amends the Unfair Commercial Practices Directive 2005/29/EC: its Annex I
point 4c bans "claiming, based on the offsetting of greenhouse gas emissions, that a product has
a neutral, reduced or positive impact on the environment in terms of greenhouse gas emissions",
and member states apply it from 27 September 2026. A carbon-neutral label rests on retired
credits, that is on offsetting, so it is refused for any EU market from then on; the footprint
and low-carbon labels state measured emissions and reductions and stay available.

Pure: codes and instants in, codes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

#: The European Union's single market as a whole.
EU = "EU"
#: The 27 member states (ISO 3166-1 alpha-2), where Directive (EU) 2024/825 applies.
EU_MEMBER_STATES = (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
)  # fmt: skip
#: Markets outside the EU: the pilot's home market first, then where its rice is sold or asked for.
OTHER_MARKETS = (
    "CN", "HK", "MO", "SG", "MY", "TH", "VN", "JP", "KR", "AU", "NZ", "US", "CA", "GB", "CH", "NO",
)  # fmt: skip
#: Every market a label may name, in the order forms list them.
MARKETS = (*OTHER_MARKETS, EU, *EU_MEMBER_STATES)
#: The markets where the EU's ban on offset-based claims applies.
EU_MARKETS = frozenset((EU, *EU_MEMBER_STATES))
#: The most markets one label names: each known market once.
MARKETS_MAX_COUNT = len(MARKETS)
#: The longest text a market code field accepts before it is looked up.
MARKET_CODE_MAX_CHARS = 2

#: Directive (EU) 2024/825 applies from 27 September 2026 (its Article 4(1)): the start of that day
#: in the member states furthest east (Eastern European Summer Time, UTC+3), so no member state's
#: 27 September begins before the ban does.
EU_OFFSET_CLAIM_BAN_FROM = datetime(2026, 9, 27, tzinfo=timezone(timedelta(hours=3), "EEST"))
#: Label schemes whose claim rests on offsetting: a carbon-neutral label says the footprint is
#: offset by retired credits.
OFFSET_BASED_SCHEMES = frozenset({"carbon_neutral"})


def markets_unknown(markets: Iterable[str]) -> list[str]:
    """The codes of ``markets`` that name no known market, in the order given.

    >>> markets_unknown(["CN", "EU", "XX", "de"])
    ['XX', 'de']
    """
    return [code for code in markets if code not in MARKETS]


def markets_where_claim_banned(scheme: str, markets: Iterable[str], at: datetime) -> list[str]:
    """The markets of ``markets`` where the ``scheme``'s claim may not be made at ``at``.

    Parameters
    ----------
    scheme : str
        A label scheme (``footprint``, ``low_carbon``, ``carbon_neutral``).
    markets : iterable of str
        Market codes, as ``MARKETS`` names them.
    at : datetime
        The instant of the application or certification (timezone-aware).

    Notes
    -----
    Directive (EU) 2024/825, Annex I point 4c of Directive 2005/29/EC as amended; applies from
    ``EU_OFFSET_CLAIM_BAN_FROM``.

    >>> from datetime import UTC
    >>> october, september = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)
    >>> markets_where_claim_banned("carbon_neutral", ["CN", "DE"], october)
    ['DE']
    >>> markets_where_claim_banned("carbon_neutral", ["DE"], september)
    []
    >>> markets_where_claim_banned("footprint", ["EU"], october)
    []
    """
    if scheme not in OFFSET_BASED_SCHEMES or at < EU_OFFSET_CLAIM_BAN_FROM:
        return []
    return [code for code in markets if code in EU_MARKETS]
