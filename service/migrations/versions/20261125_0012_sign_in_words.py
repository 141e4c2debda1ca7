"""Sign-in words: a sign-out is ``signed_out`` everywhere, and the database checks the reasons.

The API wrote ``logout`` and the console ``signed_out`` for the same thing; stored sessions say
``signed_out`` from here on, and ``revoked_reason`` must be one of the known reasons (NULL while
the session is open). ``method`` was checked already.

Downgrade drops the check and keeps ``signed_out``: the code before this revision accepted any
reason, and wrote ``signed_out`` itself from the console.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

REASONS = "'signed_out', 'refresh_token_reused', 'operator', 'account_disabled'"


def upgrade() -> None:
    op.execute(
        "UPDATE sign_in_sessions SET revoked_reason = 'signed_out' WHERE revoked_reason = 'logout'"
    )
    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.create_check_constraint("revoked_reason_known", f"revoked_reason IN ({REASONS})")


def downgrade() -> None:
    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sign_in_sessions_revoked_reason_known"), type_="check")
