"""Sink credits in the console: registry files and retirements."""

import sqlalchemy as sa


def test_an_operator_imports_a_file_and_sees_every_bad_row(client, console_sign_in, csrf, session):
    """The Wujiang file imports; a copy with a broken quantity and share is refused whole, and
    the row report names the line and the field."""
    import io
    from pathlib import Path

    from ledger.credits.models import CreditBatch

    console_sign_in("operator")
    good = Path(__file__).resolve().parents[3] / "examples" / "credits" / "wujiang.csv"
    content = good.read_bytes()
    lines = content.decode().splitlines()
    broken = "\n".join([lines[0], lines[1].replace(",1420,", ",-3,"), *lines[2:]]).encode()
    refused = client.post(
        "/admin/credits?lang=en",
        data={"csrf_token": csrf(), "file": (io.BytesIO(broken), "wujiang.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    report = refused.get_data(as_text=True)
    assert "The file was refused and nothing was imported." in report
    assert "Row report" in report and "quantity_t" in report
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditBatch)) == 0
    imported = client.post(
        "/admin/credits?lang=en",
        data={"csrf_token": csrf(), "file": (io.BytesIO(content), "wujiang.csv")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 200
    assert "new batches" in imported.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditBatch)) >= 1
    wrong_kind = client.post(
        "/admin/credits?lang=en",
        data={"csrf_token": csrf(), "file": (io.BytesIO(b"x"), "credits.xlsx")},
        content_type="multipart/form-data",
    )
    assert wrong_kind.status_code == 422
    assert "A .json or .csv file" in wrong_kind.get_data(as_text=True)


def test_an_operator_records_a_retirement(
    client, console_sign_in, csrf, session, make_organisation
):
    import io
    from pathlib import Path

    from ledger.credits.models import CreditBatch, CreditRetirement

    console_sign_in("operator")
    content = (Path(__file__).resolve().parents[3] / "examples/credits/wujiang.csv").read_bytes()
    client.post(
        "/admin/credits",
        data={"csrf_token": csrf(), "file": (io.BytesIO(content), "wujiang.csv")},
        content_type="multipart/form-data",
    )
    batch = session.scalars(sa.select(CreditBatch).order_by(CreditBatch.id)).first()
    tongli = make_organisation("enterprise", name="吴江同里米业 Tongli")
    form = {"csrf_token": csrf(), "registry_code": "YRD-CI", "registry_reference": "R-TEST-1",
            "beneficiary": "吴江同里米业", "beneficiary_organisation_id": str(tongli.id),
            "purpose": "碳中和标签", "retired_on": "2026-11-01",
            "batch_0": str(batch.id), "quantity_t_0": "5"}  # fmt: skip
    other = client.post(
        "/admin/credits/retirements?lang=en", data={**form, "beneficiary": "青浦练塘大米"},
        follow_redirects=True,
    )  # fmt: skip
    assert "not the name of 吴江同里米业 Tongli" in other.get_data(as_text=True)
    bad = client.post(
        "/admin/credits/retirements?lang=en", data={**form, "quantity_t_0": "2.5"},
        follow_redirects=True,
    )  # fmt: skip
    assert "A batch and whole tonnes." in bad.get_data(as_text=True)
    done = client.post("/admin/credits/retirements", data=form)
    assert done.headers["Location"] == "/credits"
    retirement = session.scalars(sa.select(CreditRetirement)).one()
    assert (retirement.quantity_t, retirement.registry_reference) == (5, "R-TEST-1")
    assert retirement.beneficiary_organisation_id == tongli.id
    assert "R-TEST-1" in client.get("/credits").get_data(as_text=True)


def test_the_credits_page_lists_open_findings_of_the_claimant_rule(
    client, console_sign_in, session, claimant
):
    """Migration 0017's findings wait on the credits page for an operator."""
    console_sign_in("operator")
    page = client.get("/admin/credits?lang=en").get_data(as_text=True)
    assert "Allocations that break the claimant rule" in page
    assert "No open findings." in page
