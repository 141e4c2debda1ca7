"""The labels package's web face: one module per resource, each with its schemas beside its
views. Only the composition root imports it (``service.app`` registers ``BLUEPRINTS``).

Five blueprints, whose names are the endpoints' prefixes (``url_for`` in pages and templates
rely on them): ``products`` (products and footprints), ``labels`` (labels and benchmarks),
``lots`` (a lot, and on the same blueprint its codes and its WeChat Pay payment: one URL space,
``/api/v1/lots``), ``payments`` (providers' notifications) and ``resolver`` (the GS1 Digital Link
paths printed in codes). Every module is imported here because ``codes`` and ``payments`` add
their routes to the ``lots`` blueprint: it is complete only once they are loaded.
"""

from __future__ import annotations

from labels.api import (
    codes,  # noqa: F401 - routes on the lots blueprint
    labels,
    lots,
    payments,
    products,
    resolver,
)

#: In the order the OpenAPI document lists them.
BLUEPRINTS = (products.blp, labels.blp, lots.blp, payments.blp, resolver.blp)
