"""What operators publish on the portal: policies and announcements, in Chinese and English."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.base.orm import Base, utcnow

PUBLICATION_KINDS = ("policy", "announcement")
PUBLICATION_STATUSES = ("draft", "published", "withdrawn")
SLUG_MAX_CHARS = 64
TITLE_MAX_CHARS = 200
BODY_MAX_CHARS = 20_000


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
        sa.CheckConstraint("kind IN ('policy', 'announcement')", name="kind_known"),
        sa.CheckConstraint("status IN ('draft', 'published', 'withdrawn')", name="status_known"),
        sa.CheckConstraint(
            "status <> 'published' OR published_at IS NOT NULL", name="published_has_time"
        ),
        sa.Index("ix_publications_kind_status_published_at", "kind", "status", "published_at"),
    )
