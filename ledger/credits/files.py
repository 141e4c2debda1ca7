"""Credit import files: the documented CSV and JSON forms, parsed and checked row by row.

Pure: bytes in, a ``Plan`` (or every problem found) out. What the database already holds is
checked by ``ledger.credits.imports``. Both forms describe one registry's projects, their farms, and
batches of serials (one serial per tonne) with the farms' shares of each batch.

JSON (``format: tanhui.credits/1``)::

    {"format": "tanhui.credits/1",
     "registry": {"code": "YRD-CI", "name": "长三角碳普惠"},
     "projects": [{
        "id": "YRDCI-QP-001", "name": "…", "methodology": "…", "region_code": "310118",
        "farms": [{"code": "QP-F01", "name": "…"}],
        "batches": [{"vintage": 2024, "serial_start": 1, "serial_end": 1200,
                     "quantity_t": 1200, "shares": {"QP-F01": "100"}}]}]}

CSV: UTF-8 (a BOM is allowed), one row per farm share of a batch, with the header
``registry_code,registry_name,project_id,project_name,methodology,region_code,vintage,
serial_start,serial_end,quantity_t,farm_code,farm_name,share_percent``. Rows of one batch (same
serial range) repeat its project and batch fields, which must agree.

Shares are percentages with at most four decimals (exact in parts per million) and sum to
exactly 100 per batch. Vintages may not lie in the future.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.credits.models import SHARE_PPM_TOTAL
from service.base.exceptions import FieldMessage
from service.base.parties.identifiers import normalise_region_code

FORMAT_TAG = "tanhui.credits/1"
IMPORT_BYTES_MAX = 5 * 1024 * 1024
IMPORT_ROWS_MAX = 20_000
VINTAGE_MIN = 2000
SERIAL_MAX = 10**15
TEXT_MAX_CHARS = {
    "registry_code": 32,
    "registry_name": 128,
    "project_id": 64,
    "project_name": 200,
    "methodology": 200,
    "farm_code": 64,
    "farm_name": 200,
}
CSV_COLUMNS = (
    "registry_code",
    "registry_name",
    "project_id",
    "project_name",
    "methodology",
    "region_code",
    "vintage",
    "serial_start",
    "serial_end",
    "quantity_t",
    "farm_code",
    "farm_name",
    "share_percent",
)
_PPM_PER_PERCENT = SHARE_PPM_TOTAL // 100


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused: where (a CSV line number or a JSON path), which field."""

    row: str
    field: str
    reason: str

    def path(self) -> str:
        return f"{self.row}.{self.field}" if self.field else self.row


@dataclass
class FarmPlan:
    code: str
    name: str


@dataclass
class BatchPlan:
    row: str
    vintage: int
    serial_start: int
    serial_end: int
    quantity_t: int
    shares_ppm: dict[str, int]


@dataclass
class ProjectPlan:
    row: str
    external_id: str
    name: str
    methodology: str
    region_code: str
    farms: dict[str, FarmPlan] = field(default_factory=dict)
    batches: list[BatchPlan] = field(default_factory=list)


@dataclass
class Plan:
    registry_code: str
    registry_name: str
    projects: list[ProjectPlan]

    def batches(self) -> list[tuple[ProjectPlan, BatchPlan]]:
        return [(project, batch) for project in self.projects for batch in project.batches]


class FileRejected(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, row: str, name: str, reason: str) -> None:
        self.problems.append(Problem(row, name, reason))

    def text(self, row: str, name: str, value: Any, *, key: str | None = None) -> str:
        limit = TEXT_MAX_CHARS.get(key or name, 200)
        if not isinstance(value, str) or not value.strip():
            self.add(row, name, "required text")
            return ""
        text: str = value.strip()
        if len(text) > limit:
            self.add(row, name, FieldMessage("longer than {limit} characters", limit=limit))
        if any(ord(character) < 32 for character in text):
            self.add(row, name, "control characters")
        return text

    def integer(self, row: str, name: str, value: Any, *, minimum: int = 0) -> int | None:
        if isinstance(value, bool):
            self.add(row, name, "not a whole number")
            return None
        if isinstance(value, str):
            stripped = value.strip()
            if not stripped.isdigit() or not stripped.isascii():
                self.add(row, name, "not a whole number")
                return None
            value = int(stripped)
        if not isinstance(value, int):
            self.add(row, name, "not a whole number")
            return None
        if not minimum <= value <= SERIAL_MAX:
            self.add(
                row,
                name,
                FieldMessage(
                    "outside {minimum}..{serial_max}", minimum=minimum, serial_max=SERIAL_MAX
                ),
            )
            return None
        return value

    def share(self, row: str, name: str, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.add(row, name, "not a percentage")
            return None
        try:
            percent = Decimal(str(value).strip())
        except InvalidOperation:
            self.add(row, name, "not a percentage")
            return None
        if not percent.is_finite() or not 0 < percent <= 100:
            self.add(row, name, "a share is more than 0 and at most 100 percent")
            return None
        ppm = percent * _PPM_PER_PERCENT
        if ppm != ppm.to_integral_value():
            self.add(row, name, "at most four decimals")
            return None
        return int(ppm)

    def region(self, row: str, value: Any) -> str:
        try:
            return normalise_region_code(value if isinstance(value, str) else "")
        except ValueError:
            self.add(row, "region_code", "unknown GB/T 2260 region code")
            return ""


def parse(content: bytes, file_format: str, *, current_year: int) -> Plan:
    """Parse and check a whole file; raise ``FileRejected`` with every problem found."""
    if len(content) > IMPORT_BYTES_MAX:
        raise FileRejected(
            [
                Problem(
                    "file",
                    "",
                    FieldMessage(
                        "larger than {import_bytes_max} bytes", import_bytes_max=IMPORT_BYTES_MAX
                    ),
                )
            ]
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRejected([Problem("file", "", "not UTF-8 text")]) from None
    checker = _Checker()
    if file_format == "json":
        plan = _parse_json(text, checker)
    elif file_format == "csv":
        plan = _parse_csv(text, checker)
    else:
        raise FileRejected([Problem("file", "format", "csv or json")])
    if plan is not None:
        _check_batches(plan, checker, current_year)
    if checker.problems or plan is None:
        raise FileRejected(checker.problems)
    return plan


def _parse_json(text: str, checker: _Checker) -> Plan | None:
    try:
        document = json.loads(text)
    except ValueError as error:
        checker.add("file", "", FieldMessage("not JSON: {error}", error=error))
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT_TAG:
        checker.add(
            "file", "format", FieldMessage("expected {format_tag}", format_tag=repr(FORMAT_TAG))
        )
        return None
    registry = document.get("registry")
    if not isinstance(registry, dict):
        checker.add("registry", "", "an object with code and name")
        return None
    plan = Plan(
        checker.text("registry", "code", registry.get("code"), key="registry_code"),
        checker.text("registry", "name", registry.get("name"), key="registry_name"),
        [],
    )
    projects = document.get("projects")
    if not isinstance(projects, list) or not projects:
        checker.add("file", "projects", "a non-empty list")
        return plan
    for p_index, item in enumerate(projects):
        row = f"projects[{p_index}]"
        if not isinstance(item, dict):
            checker.add(row, "", "an object")
            continue
        project = ProjectPlan(
            row,
            checker.text(row, "id", item.get("id"), key="project_id"),
            checker.text(row, "name", item.get("name"), key="project_name"),
            checker.text(row, "methodology", item.get("methodology")),
            checker.region(row, item.get("region_code")),
        )
        farms = item.get("farms")
        if not isinstance(farms, list) or not farms:
            checker.add(row, "farms", "a non-empty list")
            farms = []
        for f_index, farm in enumerate(farms):
            farm_row = f"{row}.farms[{f_index}]"
            if not isinstance(farm, dict):
                checker.add(farm_row, "", "an object")
                continue
            code = checker.text(farm_row, "code", farm.get("code"), key="farm_code")
            name = checker.text(farm_row, "name", farm.get("name"), key="farm_name")
            if code in project.farms:
                checker.add(farm_row, "code", "repeats a farm of this project")
            project.farms[code] = FarmPlan(code, name)
        batches = item.get("batches")
        if not isinstance(batches, list) or not batches:
            checker.add(row, "batches", "a non-empty list")
            batches = []
        for b_index, batch in enumerate(batches):
            batch_row = f"{row}.batches[{b_index}]"
            if not isinstance(batch, dict):
                checker.add(batch_row, "", "an object")
                continue
            shares = batch.get("shares")
            shares_ppm: dict[str, int] = {}
            if not isinstance(shares, dict) or not shares:
                checker.add(batch_row, "shares", "an object of farm code to percent")
                shares = {}
            for code, percent in shares.items():
                if code not in project.farms:
                    checker.add(batch_row, f"shares.{code}", "not a farm of this project")
                ppm = checker.share(batch_row, f"shares.{code}", percent)
                if ppm is not None:
                    shares_ppm[code] = ppm
            _batch_append(checker, project, batch_row, batch, shares_ppm)
        plan.projects.append(project)
    return plan


def _batch_append(
    checker: _Checker,
    project: ProjectPlan,
    row: str,
    values: dict[str, Any],
    shares_ppm: dict[str, int],
) -> BatchPlan | None:
    before = len(checker.problems)
    vintage = checker.integer(row, "vintage", values.get("vintage"), minimum=VINTAGE_MIN)
    start = checker.integer(row, "serial_start", values.get("serial_start"))
    end = checker.integer(row, "serial_end", values.get("serial_end"))
    quantity = checker.integer(row, "quantity_t", values.get("quantity_t"), minimum=1)
    if len(checker.problems) > before or None in (vintage, start, end, quantity):
        return None
    assert vintage is not None and start is not None and end is not None and quantity is not None
    if end < start:
        checker.add(row, "serial_end", "before serial_start")
        return None
    if quantity != end - start + 1:
        checker.add(
            row,
            "quantity_t",
            FieldMessage("the serial range holds {tonnes} tonnes", tonnes=end - start + 1),
        )
        return None
    batch = BatchPlan(row, vintage, start, end, quantity, shares_ppm)
    project.batches.append(batch)
    return batch


def _parse_csv(text: str, checker: _Checker) -> Plan | None:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as error:
        checker.add("line 1", "", FieldMessage("not CSV: {error}", error=error))
        return None
    missing = [name for name in CSV_COLUMNS if name not in (header or [])]
    if missing:
        checker.add(
            "line 1", "", FieldMessage("missing columns: {missing}", missing=", ".join(missing))
        )
        return None
    plan: Plan | None = None
    projects: dict[str, ProjectPlan] = {}
    batches: dict[tuple[str, str], tuple[str, BatchPlan, dict[str, str]]] = {}
    try:
        for number, record in enumerate(reader, start=2):
            row = f"line {number}"
            if number - 1 > IMPORT_ROWS_MAX:
                checker.add(
                    row,
                    "",
                    FieldMessage(
                        "more than {import_rows_max} rows", import_rows_max=IMPORT_ROWS_MAX
                    ),
                )
                break
            if None in record or any(value is None for value in record.values()):
                checker.add(row, "", "wrong number of columns")
                continue
            code = checker.text(row, "registry_code", record["registry_code"])
            name = checker.text(row, "registry_name", record["registry_name"])
            if plan is None:
                plan = Plan(code, name, [])
            elif (code, name) != (plan.registry_code, plan.registry_name):
                checker.add(row, "registry_code", "one registry per file")
            project_id, project = _csv_project(checker, row, record, projects, plan)
            farm_code = checker.text(row, "farm_code", record["farm_code"])
            farm_name = checker.text(row, "farm_name", record["farm_name"])
            farm = project.farms.get(farm_code)
            if farm is None:
                project.farms[farm_code] = FarmPlan(farm_code, farm_name)
            elif farm.name != farm_name:
                checker.add(row, "farm_name", "differs from an earlier row of this farm")
            ppm = checker.share(row, "share_percent", record["share_percent"])
            start_value, end_value = record["serial_start"], record["serial_end"]
            key = (start_value.strip(), end_value.strip())
            existing = batches.get(key)
            if existing is None:
                batch = _batch_append(checker, project, row, record, {})
                if batch is None:
                    continue
                batches[key] = (project_id, batch, dict(record))
            else:
                _owner, batch, first = existing
                for name_ in ("project_id", "vintage", "quantity_t"):
                    if record[name_].strip() != first[name_].strip():
                        checker.add(
                            row,
                            name_,
                            FieldMessage("differs from {row} of the same batch", row=batch.row),
                        )
            if ppm is not None:
                if farm_code in batch.shares_ppm:
                    checker.add(row, "farm_code", "a second share of one farm in one batch")
                batch.shares_ppm[farm_code] = ppm
    except csv.Error as error:
        checker.add(f"line {reader.line_num}", "", FieldMessage("not CSV: {error}", error=error))
    if plan is None:
        checker.add("line 2", "", "no rows")
    return plan


def _csv_project(
    checker: _Checker,
    row: str,
    record: dict[str, str],
    projects: dict[str, ProjectPlan],
    plan: Plan,
) -> tuple[str, ProjectPlan]:
    """The project a CSV row names: a new one, or the one an earlier row named, whose fields
    this row must repeat."""
    project_id = checker.text(row, "project_id", record["project_id"])
    fields = {
        "project_name": checker.text(row, "project_name", record["project_name"]),
        "methodology": checker.text(row, "methodology", record["methodology"]),
        "region_code": checker.region(row, record["region_code"]),
    }
    project = projects.get(project_id)
    if project is None:
        project = ProjectPlan(
            row, project_id, fields["project_name"], fields["methodology"],
            fields["region_code"],
        )  # fmt: skip
        projects[project_id] = project
        plan.projects.append(project)
        return project_id, project
    stored = {
        "project_name": project.name,
        "methodology": project.methodology,
        "region_code": project.region_code,
    }
    for key, value in fields.items():
        if value and value != stored[key]:
            checker.add(row, key, FieldMessage("differs from {row}", row=project.row))
    return project_id, project


def _check_batches(plan: Plan, checker: _Checker, current_year: int) -> None:
    ranges: list[tuple[int, int, str]] = []
    for _project, batch in plan.batches():
        if batch.vintage > current_year:
            checker.add(
                batch.row,
                "vintage",
                FieldMessage("in the future (after {current_year})", current_year=current_year),
            )
        total = sum(batch.shares_ppm.values())
        if batch.shares_ppm and total != SHARE_PPM_TOTAL:
            percent = Decimal(total) / _PPM_PER_PERCENT
            checker.add(
                batch.row,
                "shares",
                FieldMessage("farm shares add up to {percent}%, not 100%", percent=percent),
            )
        ranges.append((batch.serial_start, batch.serial_end, batch.row))
    ranges.sort()
    reach: tuple[int, int, str] | None = None  # the range reaching furthest so far
    for start, end, row in ranges:
        if reach is not None and start <= reach[1]:
            word = "repeats" if (start, end) == reach[:2] else "overlaps"
            checker.add(
                row,
                "serial_start",
                FieldMessage(
                    "{word} serials {first}–{last} of {row}",
                    word=word,
                    first=reach[0],
                    last=reach[1],
                    row=reach[2],
                ),
            )
        if reach is None or end > reach[1]:
            reach = (start, end, row)
