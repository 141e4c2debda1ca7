"""The public portal: every page in zh-CN by default and in English on request, lists that
search and page, only published notices, and nothing loaded from another host."""

import re
from datetime import UTC, datetime

import pytest

from service.db import utcnow
from service.models import Publication

PAGES = ["/", "/labels", "/credits", "/log", "/notices"]
EXTERNAL = re.compile(r'(?:src|href)="(?:https?:)?//', re.IGNORECASE)


@pytest.mark.parametrize("path", PAGES)
def test_each_page_speaks_chinese_then_english(client, path):
    chinese = client.get(path)
    assert chinese.status_code == 200
    assert chinese.headers["Content-Language"] == "zh-CN"
    assert '<html lang="zh-CN">' in chinese.get_data(as_text=True)
    english = client.get(f"{path}?lang=en")
    assert '<html lang="en">' in english.get_data(as_text=True)
    # The choice sticks: the next page comes in English without asking again.
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    client.get("/?lang=zh-CN")


@pytest.mark.parametrize("path", PAGES)
def test_no_page_loads_anything_from_another_host(client, path):
    assert not EXTERNAL.search(client.get(path).get_data(as_text=True))


def test_the_vendored_chart_library_is_served_here(client):
    page = client.get("/credits").get_data(as_text=True)
    assert '<script src="/static/vendor/chart.umd.min.js">' in page
    with client.get("/static/vendor/chart.umd.min.js") as library:
        assert library.status_code == 200
        assert b"Chart.js v4.5.1" in library.data
    assert "data-chart=" in page


def test_the_registry_finds_labels_by_product_and_status(client, certified):
    certified()
    assert "练塘香粳米 5kg" in client.get("/labels?q=香粳").get_data(as_text=True)
    assert "练塘香粳米 5kg" in client.get("/labels?q=6901234567892").get_data(as_text=True)
    assert "练塘香粳米 5kg" not in client.get("/labels?q=100%25").get_data(as_text=True)
    assert "练塘香粳米 5kg" not in client.get("/labels?status=revoked").get_data(as_text=True)
    # A page past the end, or not a number, is an empty page or the first: never an error.
    assert client.get("/labels?page=999").status_code == 200
    assert client.get("/labels?page=abc").status_code == 200


def test_labels_still_being_decided_are_not_in_the_registry(client, certified):
    certified(decide=False)
    assert "练塘香粳米 5kg" not in client.get("/labels").get_data(as_text=True)


def test_only_published_notices_show_and_their_text_is_never_html(client, session):
    now = utcnow()

    def page(slug, status, body_zh, kind="announcement"):
        return Publication(
            kind=kind, slug=slug, title_zh=f"标题 {slug}", title_en=slug, body_zh=body_zh,
            body_en="One.", status=status, published_at=now if status == "published" else None,
            created_at=now, updated_at=now,
        )  # fmt: skip

    session.add_all([
        page("pilot-open", "published", "第一段。\n\n<script>alert(1)</script>"),
        page("draft-rules", "draft", "草稿", kind="policy"),
    ])  # fmt: skip
    session.commit()
    listing = client.get("/notices").get_data(as_text=True)
    assert "标题 pilot-open" in listing and "标题 draft-rules" not in listing
    page = client.get("/notices/pilot-open").get_data(as_text=True)
    assert "<p>第一段。</p>" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert client.get("/notices/draft-rules").status_code == 404
    assert client.get("/notices?kind=policy").get_data(as_text=True).count("/notices/") == 0


def test_the_log_page_gives_the_key_and_the_command(client):
    page = client.get("/log?lang=en").get_data(as_text=True)
    assert "python3 tanhui-verify.py mirror http://127.0.0.1:8000/log tanhui-log --key" in page
    assert 'href="/log/tanhui-verify.py"' in page
    assert "has not signed its first checkpoint" in page


def test_the_log_page_shows_the_checkpoint_its_witnesses_and_the_latest_entries(make_app, session):
    from ledger.tlog import log_append, log_sequence
    from ledger.tlog.note import parse_signer_key
    from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN
    from tests.fakes.witness import witness_key_generate

    _, witness_key = witness_key_generate("witness.test/w1")
    app = make_app(TLOG_WITNESSES=f"{witness_key} http://127.0.0.1:9/witness")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    log_append(session, kind="credits.retirement", source_id="7", data={"tonnes": 3}, now=now)
    log_sequence(session, signer=parse_signer_key(TEST_LOG_KEY), origin=TEST_LOG_ORIGIN, now=now)
    for language, words in (("en", ("Credits retired", "Not cosigned", "Not yet: 0 of the 1")),
                            ("zh-CN", ("已注销碳汇", "未联署", "尚未"))):  # fmt: skip
        page = app.test_client().get(f"/log?lang={language}").get_data(as_text=True)
        for word in words:
            assert word in page, word
        assert "witness.test/w1" in page and "--witness" in page
        assert "{&#34;tonnes&#34;:3,&#34;type&#34;:&#34;credits.retirement&#34;}" in page


def test_an_unknown_page_is_a_page_not_json(client):
    response = client.get("/notices/nothing-here?lang=en")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found." in response.get_data(as_text=True)
