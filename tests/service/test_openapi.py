"""The OpenAPI 3 document is valid and describes every endpoint."""

import re

from openapi_spec_validator import validate

UNDOCUMENTED = {"static", "api-docs.openapi_json", "resolver.static"}  # files: the scan page's CSS
#: Blueprints of HTML pages (the portal, the console, the desk, a reader's pages, their files).
PAGES = ("portal.", "console.", "desk.", "mine.", "pages_static.")
#: The log's checkpoint, tiles and verifier: static resources C2SP tlog-tiles specifies, not JSON.
TILES = ("log_tiles.",)


def test_the_document_is_valid_openapi_3(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_route_is_described_with_responses(app, client):
    spec = client.get("/api/openapi.json").get_json()
    documented = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            documented.add((path, method.upper()))
            assert operation["responses"], (path, method)
            assert "default" in operation["responses"], (path, method)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED or rule.endpoint.startswith(PAGES + TILES):
            continue
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)


def test_bodies_and_errors_have_schemas(client):
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert {"Error", "Tokens", "WeChatCode", "Organisation"} <= set(schemas)
    assert set(schemas["Error"]["properties"]) == {
        "code",
        "status",
        "message",
        "fields",
        "request_id",
    }
    sign_in = spec["paths"]["/api/v1/auth/wechat"]["post"]
    assert sign_in["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "WeChatCode"
    )
    me = spec["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
