"""Security headers: every response, page or JSON, forbids framing and MIME sniffing and carries
a Content-Security-Policy that allows no inline script or style; the templates hold none to
allow. (The browser tests load every page under the policy and fail on any violation.)"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_UNIT = "/01/09506000134352/10/NOSUCHLOT/21/AAAAAAAA"
TEMPLATES = sorted((ROOT / "admin" / "templates").rglob("*.html")) + sorted(
    (ROOT / "labels" / "templates").rglob("*.html")
)
#: What a strict policy refuses: inline scripts and styles, style attributes, event handlers,
#: javascript: links.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
)


def assert_secured(response):
    policy = response.headers.get("Content-Security-Policy", "")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "path",
    [
        "/",  # a page
        "/admin/login",  # the console's sign-in page
        UNKNOWN_UNIT,  # the scan page (an unknown code)
        "/healthz",  # JSON
        "/api/v1/me",  # a JSON error (401)
        "/no/such/page",  # an HTML 404
    ],
)
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    assert_secured(response)


def test_the_scan_page_styles_come_from_a_file(client):
    page = client.get(
        "/01/09506000134352/10/NOSUCHLOT/21/AAAAAAAA", headers={"Accept": "text/html"}
    )
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.get_data(as_text=True))
    assert stylesheet is not None
    css = client.get(stylesheet[1])
    assert css.status_code == 200
    assert css.mimetype == "text/css"
    assert ".genuine" in css.get_data(as_text=True)
    css.close()


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_template_holds_inline_script_or_style(template):
    found = INLINE.findall(template.read_text())
    assert found == [], f"{template.name}: move {found} to a static file"
