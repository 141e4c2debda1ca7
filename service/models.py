"""Every table of the service: each package's model module, imported once so ``metadata`` is
complete (for Alembic and tests), and the portal's publications.

Publications are the pages' own table (operators write them in the console, the portal shows
them). The table lives here rather than in ``admin/`` because only the composition root may
import the pages, and this module, which Alembic's environment reads, must not.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from labels import models as labels_models  # noqa: F401
from ledger import models as ledger_models  # noqa: F401
from ledger.credits import models as credit_models  # noqa: F401
from points import models as points_models  # noqa: F401
from service.auth import models as auth_models  # noqa: F401
from service.base.orm import Base, utcnow
from service.base.parties import models as parties_models  # noqa: F401

PUBLICATION_KINDS = ("policy", "announcement")
PUBLICATION_STATUSES = ("draft", "published", "withdrawn")
SLUG_MAX_CHARS = 64
TITLE_MAX_CHARS = 200
BODY_MAX_CHARS = 20_000


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK's SQL allowing exactly ``values`` (the tuple above is the one list of them)."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Publication(Base):
    """A policy or announcement page. The body is plain text: paragraphs split on blank lines,
    never HTML, so nothing an operator types can run in a reader's browser."""

    __tablename__ = "publications"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    slug: Mapped[str] = mapped_column(sa.String(SLUG_MAX_CHARS), unique=True)
    title_zh: Mapped[str] = mapped_column(sa.String(TITLE_MAX_CHARS))
    title_en: Mapped[str] = mapped_column(sa.String(TITLE_MAX_CHARS))
    body_zh: Mapped[str] = mapped_column(sa.Text)
    body_en: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    published_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint(_one_of("kind", PUBLICATION_KINDS), name="kind_known"),
        sa.CheckConstraint(_one_of("status", PUBLICATION_STATUSES), name="status_known"),
        sa.CheckConstraint(
            "status <> 'published' OR published_at IS NOT NULL", name="published_has_time"
        ),
        sa.Index("ix_publications_kind_status_published_at", "kind", "status", "published_at"),
    )


metadata = Base.metadata
