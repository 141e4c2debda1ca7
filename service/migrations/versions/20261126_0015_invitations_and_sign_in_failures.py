"""Memberships are invitations the invited person answers; failed sign-ins never lock.

``invitations`` offers a role in an organisation to a phone number; a membership is made only
when its holder accepts. ``sign_in_failures`` counts failed password sign-ins per (name digest,
client address), which slow that address and, past a threshold, ask for a proof-of-work
challenge; the per-account count and lock on ``users`` go (a lock let anyone shut staff out).

Downgrade drops both tables and restores the two columns, every account unlocked with no
failures counted.

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

ROLES = "'consumer', 'enterprise_staff', 'farm_staff', 'operator', 'certifier', 'auditor'"


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("invited_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status = 'pending') = (answered_at IS NULL)",
            name=op.f("ck_invitations_answered_unless_pending"),
        ),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_invitations_role_known")),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'declined')",
            name=op.f("ck_invitations_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_user_id"], ["users.id"],
            name=op.f("fk_invitations_answered_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_user_id"], ["users.id"],
            name=op.f("fk_invitations_invited_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"],
            name=op.f("fk_invitations_organisation_id_organisations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
    )  # fmt: skip
    op.create_index(op.f("ix_invitations_organisation_id"), "invitations", ["organisation_id"])
    op.create_index(op.f("ix_invitations_phone"), "invitations", ["phone"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name_digest", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "failure_count > 0", name=op.f("ck_sign_in_failures_failure_count_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
        sa.UniqueConstraint(
            "name_digest", "address", name=op.f("uq_sign_in_failures_name_digest_address")
        ),
    )
    op.create_index(
        op.f("ix_sign_in_failures_last_failed_at"), "sign_in_failures", ["last_failed_at"]
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_failed_sign_in_count_non_negative"), type_="check")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_sign_in_count")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_sign_in_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            "failed_sign_in_count_non_negative", "failed_sign_in_count >= 0"
        )
    op.drop_index(op.f("ix_sign_in_failures_last_failed_at"), table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index(op.f("ix_invitations_phone"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_organisation_id"), table_name="invitations")
    op.drop_table("invitations")
