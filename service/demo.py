"""Demo parties for the three pilot areas. Seeding twice changes nothing.

Every demo staff account signs in with ``DEMO_PASSWORD``; this data is for a laptop, never for a
server anyone else can reach.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.auth.passwords import password_hash
from service.db import utcnow
from service.parties import services as parties
from service.parties.models import Organisation, User

DEMO_PASSWORD = "tanhui-demo-2026"  # noqa: S105 - published demo login

#: (kind, name, uscc, region code, staff username)
DEMO_ORGANISATIONS = (
    (
        "enterprise",
        "青浦练塘大米有限公司 Lianta Rice Co.",
        "91310118MA1FL4XQ09",
        "310118",
        "lianta",
    ),
    (
        "enterprise",
        "吴江同里米业有限公司 Tongli Rice Co.",
        "91320509MA1NQ7K2TQ",
        "320509",
        "tongli",
    ),
    ("enterprise", "长三角优选超市 YRD Select Retail", "91310000MA1K3C7P2R", "310000", "yrdselect"),
    (
        "cooperative",
        "青浦练塘水稻专业合作社 Lianta Rice Cooperative",
        "93310118MA1HY2W6XQ",
        "310118",
        "lianta_coop",
    ),
    (
        "cooperative",
        "嘉善姚庄稻米专业合作社 Yaozhuang Rice Cooperative",
        "93330421MA2JD5R8YR",
        "330421",
        "yaozhuang_coop",
    ),
    ("farm", "吴江震泽沈氏家庭农场 Shen Family Farm", None, "320509", "shen_farm"),
    ("farm", "青浦金泽陆氏家庭农场 Lu Family Farm", None, "310118", "lu_farm"),
    ("farm", "嘉善西塘周氏家庭农场 Zhou Family Farm", None, "330421", "zhou_farm"),
)
DEMO_PLATFORM_STAFF = (("operator", "operator"), ("certifier", "certifier"), ("auditor", "auditor"))


def seed(session: Session, *, hash_profile: str = "default") -> list[str]:
    """Create the demo platform staff and organisations; return one line per demo login."""
    platform = parties.platform_organisation(session)
    hashed = password_hash(DEMO_PASSWORD, hash_profile)
    lines: list[str] = []
    for username, role in DEMO_PLATFORM_STAFF:
        _staff(session, username=username, role=role, organisation=platform, hashed=hashed)
        lines.append(f"{role:<17} {username} / {DEMO_PASSWORD}")
    for kind, name, uscc, region_code, username in DEMO_ORGANISATIONS:
        organisation = session.scalars(
            sa.select(Organisation).where(Organisation.name == name)
        ).one_or_none()
        if organisation is None:
            organisation = Organisation(
                kind=kind,
                name=name,
                uscc=uscc,
                region_code=region_code,
                status="approved",
                approved_at=utcnow(),
            )
            session.add(organisation)
            session.flush()
        role = "enterprise_staff" if kind == "enterprise" else "farm_staff"
        _staff(session, username=username, role=role, organisation=organisation, hashed=hashed)
        lines.append(f"{role:<17} {username} / {DEMO_PASSWORD}  ({name})")
    session.flush()
    return lines


def _staff(
    session: Session, *, username: str, role: str, organisation: Organisation, hashed: str
) -> User:
    user = session.scalars(sa.select(User).where(User.username == username)).one_or_none()
    if user is None:
        return parties.staff_create(
            session,
            username=username,
            password_hash=hashed,
            role=role,
            organisation=organisation,
            display_name=username,
        )
    parties.membership_grant(
        session, user_id=user.id, organisation=organisation, role=role, granted_by_user_id=None
    )
    return user
