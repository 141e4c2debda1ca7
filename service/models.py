"""Every model module, imported once so ``metadata`` is complete (for Alembic and tests)."""

from admin import models as admin_models  # noqa: F401
from labels import models as labels_models  # noqa: F401
from ledger import models as ledger_models  # noqa: F401
from ledger.credits import models as credit_models  # noqa: F401
from points import models as points_models  # noqa: F401
from service.auth import models as auth_models  # noqa: F401
from service.base.orm import Base
from service.base.parties import models as parties_models  # noqa: F401

metadata = Base.metadata
