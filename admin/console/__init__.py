"""The console at ``/admin`` for operators, certifiers and auditors, one module per area.

Each page is a thin view: it reads through ``admin.selectors`` or the domain modules, and each
form calls one service function through ``admin.web.form_action``; the request layer commits
once. The rules stay where the API finds them: a certifier's decision here is
``label_transition`` as it is over the API.

Every area adds its pages to the one blueprint of ``admin.console.blueprint`` (so endpoints keep
their ``console.`` names); importing the areas here puts all of them on it.
"""

from __future__ import annotations

from admin.console import (  # noqa: F401 - each area's pages join the blueprint on import
    anomalies,
    audit,
    credits,
    home,
    labels,
    lots,
    organisations,
    points,
    publications,
)
from admin.console.blueprint import blp

__all__ = ["blp"]
