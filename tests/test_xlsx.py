"""The standard-library XLSX writer: openpyxl and pandas read back what was written."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from networks.errors import InputError
from networks.xlsx import _column_letters, write_xlsx


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "numbers": pd.DataFrame({
            "int": np.array([1, -2, 3_000_000_000], dtype=np.int64),
            "float": [0.1, 1e-05, 123456.789012345],
            "gaps": [np.nan, math.inf, -math.inf],
            "flag": [True, False, True],
        }),
        "text & more": pd.DataFrame({
            "name": ["Hangzhou East 杭州东", "a < b & c > d \"q\"", "tab\there\nnew line\x01bell"],
            "mixed": [None, 2.5, "x"],
            7: ["column named by an int", "", "  spaces kept  "],
        }),
        "empty": pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=object)}),
    }


def test_values_types_and_header_read_back_with_openpyxl(tmp_path):
    path = tmp_path / "book.xlsx"
    write_xlsx(path, _tables())
    book = load_workbook(path)
    assert book.sheetnames == ["numbers", "text & more", "empty"]
    rows = list(book["numbers"].iter_rows(values_only=True))
    assert rows[0] == ("int", "float", "gaps", "flag")
    assert rows[1] == (1, 0.1, None, True)
    assert rows[2] == (-2, 1e-05, "inf", False)
    assert rows[3] == (3_000_000_000, 123456.789012345, "-inf", True)
    assert all(cell.font.b for cell in book["numbers"][1]) and not book["numbers"]["A2"].font.b
    text = list(book["text & more"].iter_rows(values_only=True))
    assert text[0] == ("name", "mixed", "7")
    assert text[1] == ("Hangzhou East 杭州东", None, "column named by an int")
    assert text[2] == ('a < b & c > d "q"', 2.5, "")  # an empty string stays one
    assert text[3] == ("tab\there\nnew linebell", "x", "  spaces kept  ")  # control characters dropped
    assert list(book["empty"].iter_rows(values_only=True)) == [("a", "b")]


def test_pandas_reads_the_frames_back(tmp_path):
    path = tmp_path / "book.xlsx"
    frame = pd.DataFrame({"zone": ["a", "b", "c"], "trips": [1.5, np.nan, 3.25], "n": [1, 2, 3]})
    write_xlsx(path, {"pairs": frame})
    back = pd.read_excel(path, sheet_name="pairs")
    pd.testing.assert_frame_equal(back, frame)


def test_same_tables_same_bytes(tmp_path):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_xlsx(a, _tables())
    write_xlsx(b, _tables())
    assert a.read_bytes() == b.read_bytes()


def test_column_letters():
    assert [_column_letters(k) for k in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]


@pytest.mark.parametrize("names, message", [
    ([], "at least one table"),
    (["a/b"], "sheet name 'a/b'"),
    ([""], "sheet name ''"),
    (["Sheet", "sheet"], "not unique"),
    (["x" * 40, "x" * 35], "not unique"),
])
def test_bad_sheet_names_are_refused_and_nothing_is_written(tmp_path, names, message):
    path = tmp_path / "book.xlsx"
    with pytest.raises(InputError, match=message):
        write_xlsx(path, {name: pd.DataFrame({"a": [1]}) for name in names})
    assert list(tmp_path.iterdir()) == []
