"""Security headers on every response: a strict Content-Security-Policy, no framing, no MIME
sniffing, and referrers kept to our own origin.

The pages load only their own files (``admin/static``, ``labels/static``): no inline script,
style or event handler, nothing from another host, so the policy can forbid all of them and a
string that slips past escaping still cannot run. JSON answers carry the same headers; for them
``nosniff`` is what matters (a browser never reads an API answer as a script or a page).
Referrers stay on our origin because page addresses carry lot numbers and serials.
"""

from __future__ import annotations

from flask import Flask, Response

#: Each directive on its own line, so a change reads as one line of a diff.
CONTENT_SECURITY_POLICY_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)
SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join(CONTENT_SECURITY_POLICY_DIRECTIVES),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
