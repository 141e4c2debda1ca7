"""Products: enterprise staff register and change their own; GTINs are checked, normalised and
unique; other enterprises' products stay out of sight."""

import pytest

from tests.conftest import count_rows


@pytest.fixture()
def enterprise(make_organisation, make_staff, sign_in, bearer):
    """(organisation, headers) of a fresh approved enterprise and one of its staff."""

    def make(status="approved"):
        organisation = make_organisation("enterprise", status=status)
        user = make_staff(role="enterprise_staff", organisation=organisation)
        return organisation, bearer(sign_in(user.username))

    return make


def product_body(organisation_id, **changes):
    return {
        "organisation_id": organisation_id,
        "gtin": "6901234567892",
        "name": "练塘香粳米 5kg",
        "name_en": "Lianta fragrant japonica rice 5 kg",
        "category": "milled_rice",
        "declared_unit": "unit",
        "net_content_g": 5000,
        **changes,
    }


def test_staff_register_a_product_with_a_gtin_13(client, enterprise):
    organisation, headers = enterprise()
    response = client.post("/api/v1/products", headers=headers, json=product_body(organisation.id))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["gtin"], body["organisation_id"], body["net_content_g"]) == (
        "06901234567892",
        organisation.id,
        5000,
    )
    listed = client.get("/api/v1/products", headers=headers).get_json()
    assert [p["id"] for p in listed] == [body["id"]]


def test_a_duplicate_gtin_is_refused_in_any_of_its_forms(client, enterprise, session):
    organisation, headers = enterprise()
    client.post("/api/v1/products", headers=headers, json=product_body(organisation.id))
    other, other_headers = enterprise()
    for form in ("06901234567892", "6901234567892", " 690 1234 567892"):
        response = client.post(
            "/api/v1/products", headers=other_headers, json=product_body(other.id, gtin=form)
        )
        assert response.status_code == 409
        assert response.get_json()["code"] == "gtin_taken"
        assert response.get_json()["fields"][0]["field"] == "gtin"
    assert count_rows(session, "products") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gtin": "6901234567891"}, "gtin"),
        ({"gtin": "12345678901234567890"}, "gtin"),
        ({"category": "wine"}, "category"),
        ({"declared_unit": "bag"}, "declared_unit"),
        ({"net_content_g": 0}, "net_content_g"),
        ({"net_content_g": 50_001}, "net_content_g"),
        ({"net_content_g": "5000"}, "net_content_g"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_fields_are_named(client, enterprise, session, change, field):
    organisation, headers = enterprise()
    response = client.post(
        "/api/v1/products", headers=headers, json=product_body(organisation.id, **change)
    )
    assert response.status_code == 422
    assert field in {item["field"] for item in response.get_json()["fields"]}
    assert count_rows(session, "products") == 0


def test_only_approved_enterprises_have_products(client, enterprise):
    organisation, headers = enterprise(status="pending")
    response = client.post("/api/v1/products", headers=headers, json=product_body(organisation.id))
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "organisation_id"


def test_other_enterprises_products_are_out_of_sight(client, enterprise):
    organisation, headers = enterprise()
    created = client.post(
        "/api/v1/products", headers=headers, json=product_body(organisation.id)
    ).get_json()
    other, other_headers = enterprise()
    assert client.get(f"/api/v1/products/{created['id']}", headers=other_headers).status_code == 404
    response = client.patch(
        f"/api/v1/products/{created['id']}", headers=other_headers, json={"name": "x"}
    )
    assert response.status_code == 404
    assert client.get("/api/v1/products", headers=other_headers).get_json() == []
    # Registering a product for someone else's enterprise is the same 404.
    response = client.post(
        "/api/v1/products",
        headers=other_headers,
        json=product_body(organisation.id, gtin="96385074"),
    )
    assert response.status_code == 404


def test_staff_change_their_product(client, enterprise):
    organisation, headers = enterprise()
    created = client.post(
        "/api/v1/products", headers=headers, json=product_body(organisation.id)
    ).get_json()
    response = client.patch(
        f"/api/v1/products/{created['id']}",
        headers=headers,
        json={"gtin": "96385074", "net_content_g": 2500},
    )
    assert response.status_code == 200
    assert (response.get_json()["gtin"], response.get_json()["net_content_g"]) == (
        "00000096385074",
        2500,
    )


def test_consumers_have_no_product_api(client, consumer_tokens, bearer):
    response = client.get("/api/v1/products", headers=bearer(consumer_tokens()))
    assert response.status_code == 403
