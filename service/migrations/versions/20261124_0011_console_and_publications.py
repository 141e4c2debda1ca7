"""The web console: sign-in sessions of method ``console``; policy and announcement pages.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _methods(allowed: str) -> None:
    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sign_in_sessions_method_known"), type_="check")
        batch_op.create_check_constraint("method_known", f"method IN ({allowed})")


def upgrade() -> None:
    _methods("'wechat', 'password', 'console'")
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("body_zh", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('policy', 'announcement')", name=op.f("ck_publications_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'withdrawn')",
            name=op.f("ck_publications_status_known"),
        ),
        sa.CheckConstraint(
            "status <> 'published' OR published_at IS NOT NULL",
            name=op.f("ck_publications_published_has_time"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_publications_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
        sa.UniqueConstraint("slug", name=op.f("uq_publications_slug")),
    )
    op.create_index(
        "ix_publications_kind_status_published_at",
        "publications",
        ["kind", "status", "published_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_publications_kind_status_published_at", table_name="publications")
    op.drop_table("publications")
    op.execute("DELETE FROM sign_in_sessions WHERE method = 'console'")
    _methods("'wechat', 'password'")
