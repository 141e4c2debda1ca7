"""Publishing policies and announcements (operators). Functions take a session, never commit."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.base.exceptions import Conflict, FieldMessage, ValidationFailed
from service.models import PUBLICATION_KINDS, Publication

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
#: Which status may follow which.
MOVES = {("draft", "published"), ("published", "withdrawn"), ("withdrawn", "published")}


def publication_create(
    session: Session,
    *,
    kind: str,
    slug: str,
    title_zh: str,
    title_en: str,
    body_zh: str,
    body_en: str,
    publish: bool,
    user_id: int,
    now: datetime,
) -> Publication:
    """A new page, a draft unless ``publish``; its slug (its address) is unique."""
    if kind not in PUBLICATION_KINDS:
        raise ValidationFailed.field(
            "kind", FieldMessage("Must be one of: {choices}.", choices=", ".join(PUBLICATION_KINDS))
        )
    if not SLUG.match(slug):
        raise ValidationFailed.field("slug", "Use a-z, 0-9 and - (not at either end).")
    taken = session.scalar(sa.select(Publication.id).where(Publication.slug == slug))
    if taken is not None:
        raise ValidationFailed.field("slug", "Already used by another page.")
    publication = Publication(
        kind=kind, slug=slug, title_zh=title_zh, title_en=title_en, body_zh=body_zh,
        body_en=body_en, status="published" if publish else "draft",
        published_at=now if publish else None, created_by=user_id, created_at=now,
        updated_at=now,
    )  # fmt: skip
    session.add(publication)
    session.flush()
    return publication


def publication_set_status(
    session: Session, *, publication: Publication, status: str, now: datetime
) -> Publication:
    """Publish, withdraw or republish a page (a draft is published once; withdrawn pages leave
    the portal but keep their address for when they return)."""
    if (publication.status, status) not in MOVES:
        raise Conflict(code="publication_status_refused",
                       params={"from": publication.status, "to": status})  # fmt: skip
    publication.status = status
    if status == "published":
        publication.published_at = now
    publication.updated_at = now
    session.flush()
    return publication
