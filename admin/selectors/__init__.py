"""Every query the pages make, one module per face: each a named function, so a view parses the
request, calls a selector or one service function, and renders.

Functions that read take the ``session`` first; those that build a list's statement return it
unexecuted, because ``admin.web.paged`` runs it twice (the page's rows and the total).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def matching(query: str, *columns: Any) -> Any:
    """Rows where any of ``columns`` contains ``query`` as typed (``%`` and ``_`` match
    themselves): the search box of a list."""
    return sa.or_(*(column.contains(query, autoescape=True) for column in columns))
