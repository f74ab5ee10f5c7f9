"""The one reader and report of all-or-nothing imports (app/imports.py)."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.imports import ImportRejected, ImportReport, ImportRow, RowRejection, echo_rejections, read_rows


def test_csv_rows_are_numbered_by_line_and_stripped():
    raw = "\ufeffcode,name\nA1 ,  甲 \n\nB2,乙\n".encode()  # with the byte-order mark spreadsheets write
    rows = read_rows(raw, "csv", items="things", required=("code", "name"))
    # The blank line is skipped but counted: line numbers are the file's.
    assert rows == [ImportRow(2, {"code": "A1", "name": "甲"}), ImportRow(4, {"code": "B2", "name": "乙"})]


def test_json_rows_are_a_list_or_wrapped_under_the_items_name():
    listed = read_rows(b'[{"code": "A1"}, 7]', "json", items="things", required=("code",))
    assert listed == [ImportRow(0, {"code": "A1"}), ImportRow(1, {"": 7})]
    wrapped = read_rows(b'{"things": [{"code": "B2"}]}', "json", items="things", required=("code",))
    assert wrapped == [ImportRow(0, {"code": "B2"})]


@pytest.mark.parametrize(
    ("raw", "file_format", "message", "details"),
    [
        (b"\xff\xfe", "csv", "not a UTF-8 file", "file"),
        (b"name\nx\n", "csv", "bad CSV header", {"file": "missing column(s): code"}),
        (
            b"code,colour\nx,red\n",
            "csv",
            "bad CSV header",
            {"file": "unknown column(s): colour; columns: code, name"},
        ),
        (b"{nope", "json", "not a JSON file", "file"),
        (b'{"other": []}', "json", "bad JSON", {"file": 'expected a list of things or {"things": [...]}'}),
        (b"", "xml", "unknown format", {"format": "'xml': expected csv or json"}),
    ],
)
def test_what_cannot_be_read_is_refused_before_any_row(raw, file_format, message, details):
    with pytest.raises(InvalidInput) as caught:
        read_rows(raw, file_format, items="things", required=("code",), columns=("code", "name"))
    assert caught.value.message == message
    if isinstance(details, dict):
        assert caught.value.details == details
    else:
        assert set(caught.value.details) == {details}


def test_a_rejected_import_reports_rows_and_prints_where_they_are(capsys):
    report = ImportReport(rows=3)
    report.rejected = [RowRejection(2, "A1", "name", "required"), RowRejection(2, "A1", "kind", "unknown")]
    report.rejected.append(RowRejection(4, None, "code", "required"))
    error = ImportRejected(report, "things", position="line {}")
    assert error.message == "2 of 3 things rejected; nothing was imported"
    assert error.details["rejected_rows"] == 2 and len(error.details["rejected"]) == 3
    echo_rejections(error)
    assert capsys.readouterr().err.splitlines() == [
        "rejected line 2 A1 [name]: required",
        "rejected line 2 A1 [kind]: unknown",
        "rejected line 4 (no code) [code]: required",
    ]
