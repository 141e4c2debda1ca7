"""``tanhui credits import FILE``: the pilot files import once; a bad file lists every bad row and
imports nothing."""

from pathlib import Path

from tests.conftest import count_rows

EXAMPLES = Path(__file__).parents[2] / "examples" / "credits"


def test_the_pilot_files_import_once(app, session):
    runner = app.test_cli_runner()
    for name in ("qingpu.json", "wujiang.csv", "jiashan.json"):
        result = runner.invoke(args=["credits", "import", str(EXAMPLES / name)])
        assert result.exit_code == 0, result.output
        assert "2 batches created, 0 unchanged" in result.output
    again = runner.invoke(args=["credits", "import", str(EXAMPLES / "wujiang.csv")])
    assert again.exit_code == 0
    assert "(exists)" in again.output
    assert count_rows(session, "credit_batches") == 6


def test_a_bad_file_lists_every_bad_row_and_imports_nothing(app, session, tmp_path):
    lines = (EXAMPLES / "wujiang.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",2024,", ",2099,")
    lines[7] = lines[7].replace(",320509,", ",000000,")
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines), encoding="utf-8")

    result = app.test_cli_runner().invoke(args=["credits", "import", str(bad), "--format", "csv"])
    assert result.exit_code == 1
    assert "bad.txt: line 2: vintage: in the future" in result.output
    assert "bad.txt: line 8: region_code: unknown GB/T 2260 region code" in result.output
    assert "not imported" in result.output
    assert count_rows(session, "credit_batches") == 0


def test_the_format_comes_from_the_extension_or_the_option(app, tmp_path):
    odd = tmp_path / "credits.dat"
    odd.write_text("{}", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["credits", "import", str(odd)])
    assert result.exit_code == 2
    assert "--format" in result.output
