"""Points over HTTP: one blueprint (``points``, in ``common``) and a module per resource, each
with its schemas beside it (the bodies the pages load too are in ``points.schemas``).

Importing the package registers every resource's routes on the blueprint; the composition root
registers ``blp``. The modules are imported in the order the API document lists their paths and
schemas, so the document stays the same byte for byte.
"""

# isort: off
from points.api import rules, claims, balances, grants, practices  # noqa: F401 (routes)
from points.api import catalogue, orders, payouts, flags  # noqa: F401 (routes)

# isort: on
from points.api.common import blp

__all__ = ["blp"]
