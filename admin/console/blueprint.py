"""The console's one blueprint (``console``, at ``/admin``), which every area of it adds its
pages to, and what the areas share."""

from __future__ import annotations

from admin.web import pages_blueprint

blp = pages_blueprint("console", "/admin", console=True)
STAFF_ROLES = ("operator", "certifier", "auditor")
REASON_MAX_CHARS = 500
