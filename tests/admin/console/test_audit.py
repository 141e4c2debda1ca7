"""The audit page: the ledger and log verification, and the entry search."""


def test_an_auditor_verifies_the_ledger_and_searches_entries(client, console_sign_in, csrf):
    console_sign_in("auditor")
    page = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Verify now" in page
    verified = client.post("/admin/audit", data={"csrf_token": csrf()}).get_data(as_text=True)
    assert "Everything checks out." in verified
    assert client.get("/admin/audit?q=100%25&kind=nothing&account=x").status_code == 200
    forged = client.post("/admin/audit", data={"csrf_token": "forged"})
    assert forged.status_code == 400
