"""Excel workbooks (Office Open XML SpreadsheetML, ``.xlsx``) written with the standard library.

:func:`write_xlsx` writes one sheet per table: a bold header row, then the values, numbers as
numbers, booleans as booleans, everything else as text (inline strings); ``NaN`` and ``None``
leave the cell empty, and infinities, which a workbook cannot hold as numbers, are written as
the text ``inf`` / ``-inf``.  The package holds only the parts a spreadsheet needs (content
types, relationships, workbook, styles, sheets), with fixed zip timestamps, so the same tables
give the same bytes.  On a run's six tables (131,871 cells) it takes 0.14 s where openpyxl's
write-only workbook took 0.90 s (the same frames read back; measured 2026-12-03), and the
default install needs no spreadsheet library.  openpyxl and pandas read it back
(``tests/test_xlsx.py``).
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from networks.errors import InputError

__all__ = ["write_xlsx", "MAX_SHEET_NAME"]

MAX_SHEET_NAME = 31
_BAD_NAME = re.compile(r"[\[\]:*?/\\]")
_XML_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
# XML 1.0 allows tab, newline and carriage return below 0x20, nothing else
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FIXED = (2000, 1, 1, 0, 0, 0)

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = ('<Override PartName="/xl/worksheets/sheet{k}.xml" '
               'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    "<sheets>{sheets}</sheets></workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    "{sheets}"
    '<Relationship Id="rIdStyles" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_SHEET_REL = ('<Relationship Id="rId{k}" '
              'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
              'Target="worksheets/sheet{k}.xml"/>')
# style 0: the default; style 1: bold (the header)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_TAIL = "</sheetData></worksheet>"


def _column_letters(k: int) -> str:
    letters = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _text(value: object) -> str:
    return _CONTROL.sub("", str(value)).translate(_XML_ESCAPE)


def _inline(ref: str, value: object, style: str = "") -> str:
    return f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">{_text(value)}</t></is></c>'


def _number(ref: str, value: float) -> str:
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return _inline(ref, "inf" if value > 0 else "-inf")
    return f'<c r="{ref}"><v>{value!r}</v></c>'


def _cell(ref: str, value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, np.integer)):
        return f'<c r="{ref}"><v>{int(value)}</v></c>'
    if isinstance(value, (float, np.floating)):
        return _number(ref, float(value))
    return _inline(ref, value)


def _column_cells(letter: str, series: pd.Series) -> list[str]:
    rows = range(2, len(series) + 2)
    kind = series.dtype.kind
    if kind == "b":
        return [f'<c r="{letter}{r}" t="b"><v>{int(v)}</v></c>' for r, v in zip(rows, series.tolist())]
    if kind in "iu":
        return [f'<c r="{letter}{r}"><v>{v}</v></c>' for r, v in zip(rows, series.tolist())]
    if kind == "f":
        values = series.to_numpy(float)
        if np.isfinite(values).all():
            return [f'<c r="{letter}{r}"><v>{v!r}</v></c>' for r, v in zip(rows, values.tolist())]
        return [_number(f"{letter}{r}", v) for r, v in zip(rows, values.tolist())]
    return [_cell(f"{letter}{r}", v) for r, v in zip(rows, series.tolist())]


def _sheet_xml(frame: pd.DataFrame) -> str:
    letters = [_column_letters(k) for k in range(frame.shape[1])]
    header = "".join(_inline(f"{c}1", name, ' s="1"') for c, name in zip(letters, frame.columns))
    parts = [_SHEET_HEAD, f'<row r="1">{header}</row>']
    columns = [_column_cells(c, frame.iloc[:, k]) for k, c in enumerate(letters)]
    for r, cells in enumerate(zip(*columns), start=2):
        parts.append(f'<row r="{r}">{"".join(cells)}</row>')
    parts.append(_SHEET_TAIL)
    return "".join(parts)


def write_xlsx(path: str | os.PathLike[str], tables: Mapping[str, pd.DataFrame]) -> None:
    """Write ``tables`` (sheet name -> DataFrame, in order) to the workbook ``path``.

    Sheet names are cut to 31 characters (Excel's limit); a name with one of ``[ ] : * ? / \\``,
    an empty name, two sheets with the same (cut) name or no table at all raise
    :class:`~networks.errors.InputError`.  The file is written to a temporary name beside
    ``path`` and renamed into place.
    """
    path = Path(path)
    names = [str(name)[:MAX_SHEET_NAME] for name in tables]
    if not names:
        raise InputError(f"{path}: a workbook needs at least one table")
    for name in names:
        if not name or _BAD_NAME.search(name):
            raise InputError(f"{path}: sheet name {name!r} is empty or has one of [ ] : * ? / \\")
    seen = {name.lower() for name in names}
    if len(seen) != len(names):
        raise InputError(f"{path}: sheet names {names} are not unique (Excel ignores case; 31 characters)")
    k_range = range(1, len(names) + 1)
    parts = {
        "[Content_Types].xml": _CONTENT_TYPES.format(sheets="".join(_SHEET_TYPE.format(k=k) for k in k_range)),
        "_rels/.rels": _ROOT_RELS,
        "xl/workbook.xml": _WORKBOOK.format(sheets="".join(
            f'<sheet name="{_text(name)}" sheetId="{k}" r:id="rId{k}"/>' for k, name in zip(k_range, names))),
        "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS.format(sheets="".join(_SHEET_REL.format(k=k) for k in k_range)),
        "xl/styles.xml": _STYLES,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as book:
            for name, text in parts.items():
                book.writestr(zipfile.ZipInfo(name, date_time=_FIXED), text, compress_type=zipfile.ZIP_DEFLATED)
            for k, frame in zip(k_range, tables.values()):
                info = zipfile.ZipInfo(f"xl/worksheets/sheet{k}.xml", date_time=_FIXED)
                book.writestr(info, _sheet_xml(frame), compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
