"""Units and the calendar every report counts in.

Grams of CO2e, points and fen are integers everywhere; a tonne is a million grams. Days and months
(caps, reports, pages) are Beijing time, ``Asia/Shanghai``, which keeps no daylight saving.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

#: Grams of CO2e in one tonne (one registry serial is one tonne).
GRAMS_PER_TONNE = 1_000_000

#: Beijing time: the zone of every calendar day and month the service counts or shows.
SHANGHAI = ZoneInfo("Asia/Shanghai")
