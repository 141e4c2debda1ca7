"""The service's tests reuse the label and points fixtures: an enterprise with an issued lot, a
farm, an operator, and the unit-claim rule."""

from tests.labels.conftest import (  # noqa: F401 - shared fixtures
    certified,
    certifier,
    operator,
    retired_tonne,
    staff,
)
from tests.points.conftest import farm, lot_codes  # noqa: F401 - shared fixtures
from tests.points.test_claims_api import rule  # noqa: F401 - shared fixture
