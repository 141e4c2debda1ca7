"""Points tests reuse the label fixtures: an enterprise, a certifier, an operator, certified
labels and issued lots."""

from tests.labels.conftest import certified, certifier, operator, retired_tonne, staff  # noqa: F401
