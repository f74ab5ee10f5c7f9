"""KPI rows as CSV for Excel: UTF-8 with a BOM (so Excel reads the Chinese), a zh-CN header row, then a
row of the English keys (the same keys as the JSON rows), then the data. Rates stay fractions 0..1; an empty
cell is null (a rate whose denominator is 0, a mean of nothing)."""

from __future__ import annotations

import csv
import io
from typing import Any

from app.kpi.services import COUNT_LABELS, MEAN_LABEL, RATE_LABELS

COLUMNS: dict[str, tuple[str, str]] = {
    "period_start": ("开始时间", "period start"),
    "period_end": ("结束时间", "period end"),
    "key": ("编码", "key"),
    "name": ("名称", "name"),
    **COUNT_LABELS,
    "mean_handling_minutes": MEAN_LABEL,
    **RATE_LABELS,
}
BOM = "\ufeff"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([zh for zh, _ in COLUMNS.values()])
    writer.writerow(list(COLUMNS))
    for row in rows:
        writer.writerow([_cell(row[key]) for key in COLUMNS])
    return buffer.getvalue()
