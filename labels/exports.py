"""Print exports of unit codes: GS1 Digital Link URIs as CSV for variable-data printers, single QR
codes as SVG or PNG, and SVG sheets for small runs. Everything large is a generator, so memory
stays flat however many units a lot has.

URIs follow GS1 Digital Link 1.x: ``{base}/01/{GTIN-14}/10/{lot}/21/{serial}`` for a unit and
``{base}/01/{GTIN-14}/10/{lot}`` for a lot-level code. Lot numbers and serials here never need
percent-encoding (see ``labels.lots.LOT_NUMBER_PATTERN`` and ``labels.codes.ALPHABET``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from xml.sax.saxutils import escape

import qrcode
import qrcode.constants

from labels.codes import LotKey, serials

CSV_CHUNK_BYTES = 64 * 1024
SHEET_CODES_MAX = 500
SHEET_COLUMNS = 5
QR_BORDER_MODULES = 4
PNG_MODULE_PIXELS = 8
CSV_HEADER = "index,serial,uri\n"


def digital_link(base_url: str, gtin: str, lot: str, serial: str | None = None) -> str:
    uri = f"{base_url.rstrip('/')}/01/{gtin}/10/{lot}"
    return f"{uri}/21/{serial}" if serial is not None else uri


def csv_chunks(
    base_url: str, key: LotKey, start: int = 0, stop: int | None = None
) -> Iterator[str]:
    """``index,serial,uri`` rows for units ``start`` … ``stop − 1``, in chunks of about 64 KiB."""
    prefix = digital_link(base_url, key.gtin, key.lot) + "/21/"
    yield CSV_HEADER
    parts: list[str] = []
    size = 0
    for index, serial in enumerate(serials(key, start, stop), start):
        line = f"{index},{serial},{prefix}{serial}\n"
        parts.append(line)
        size += len(line)
        if size >= CSV_CHUNK_BYTES:
            yield "".join(parts)
            parts, size = [], 0
    if parts:
        yield "".join(parts)


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code's modules (error correction M), quiet zone included."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=QR_BORDER_MODULES
    )
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def _path(matrix: Sequence[Sequence[bool]], x0: float = 0, y0: float = 0) -> str:
    commands = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                run = x
                while run < len(row) and row[run]:
                    run += 1
                commands.append(f"M{x0 + x} {y0 + y}h{run - x}v1h{x - run}z")
                x = run
            else:
                x += 1
    return "".join(commands)


def qr_svg(data: str, caption: str = "") -> str:
    """One QR code as a scalable SVG (one path; a caption below when given)."""
    matrix = qr_matrix(data)
    size = len(matrix)
    height = size + (4 if caption else 0)
    text = (
        f'<text x="{size / 2}" y="{size + 2.5}" font-size="2" text-anchor="middle" '
        f'font-family="monospace">{escape(caption)}</text>'
        if caption
        else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {height}" '
        f'shape-rendering="crispEdges"><rect width="{size}" height="{height}" fill="#fff"/>'
        f'<path fill="#000" d="{_path(matrix)}"/>{text}</svg>'
    )


def qr_png(data: str, module_pixels: int = PNG_MODULE_PIXELS) -> bytes:
    """One QR code as a PNG, ``module_pixels`` pixels per module."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=QR_BORDER_MODULES,
        box_size=module_pixels,
    )
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def sheet_svg(items: Sequence[tuple[str, str]], columns: int = SHEET_COLUMNS) -> Iterator[str]:
    """A sheet of (data, caption) codes in a grid, streamed as SVG text."""
    if not 0 < len(items) <= SHEET_CODES_MAX:
        raise ValueError(f"a sheet holds 1 to {SHEET_CODES_MAX} codes")
    matrices = [qr_matrix(data) for data, _ in items]
    cell = max(len(matrix) for matrix in matrices)
    cell_height = cell + 4
    rows = (len(items) + columns - 1) // columns
    width, height = cell * columns, cell_height * rows
    yield (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'shape-rendering="crispEdges"><rect width="{width}" height="{height}" fill="#fff"/>'
    )
    for number, (matrix, (_, caption)) in enumerate(zip(matrices, items, strict=True)):
        x0, y0 = (number % columns) * cell, (number // columns) * cell_height
        yield f'<path fill="#000" d="{_path(matrix, x0, y0)}"/>'
        yield (
            f'<text x="{x0 + cell / 2}" y="{y0 + cell + 2.5}" font-size="2" '
            f'text-anchor="middle" font-family="monospace">{escape(caption)}</text>'
        )
    yield "</svg>"
