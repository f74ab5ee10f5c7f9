"""KPI endpoints: ``GET /api/v1/kpis`` (JSON) and ``GET /api/v1/kpis.csv`` (or ``?format=csv``) for Excel."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.http import api_user
from app.kpi import export, periods, services
from app.kpi.schemas import KpiArgs, KpiReportSchema

blp = Blueprint("kpis", __name__, url_prefix="/api/v1", description="考核指标 KPIs")


def _query(args: dict[str, Any]) -> services.KpiQuery:
    return services.KpiQuery(
        group_by=args["group_by"],
        start=args["from_"],
        end=args["to"],
        grid=args.get("grid"),
        granularity=args.get("granularity"),
    )


def _csv(query: services.KpiQuery, rows: list[dict[str, Any]]) -> Response:
    span = f"{periods.local(query.start):%Y%m%d}-{periods.local(query.end):%Y%m%d}"
    name = f"kpis-{query.group_by}-{span}.csv"
    return Response(
        export.to_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blp.route("/kpis")
class Kpis(MethodView):
    @blp.arguments(KpiArgs, location="query")
    @blp.response(200, KpiReportSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """KPIs per grid level, unit, worker or overall for [from, to) over the cases you may see."""
        query = _query(args)
        rows = services.kpi_rows(api_user(), query)
        if args["format"] == "csv":
            return _csv(query, rows)
        return {
            "group_by": query.group_by,
            "from_": periods.local(query.start),
            "to": periods.local(query.end),
            "grid": query.grid,
            "granularity": query.granularity,
            "rows": rows,
        }


@blp.route("/kpis.csv")
class KpisCsv(MethodView):
    @blp.arguments(KpiArgs, location="query")
    @blp.response(200, description="CSV (UTF-8 with BOM): a zh-CN header row, an English key row, the rows")
    def get(self, args: dict[str, Any]) -> Response:
        """The same KPIs as a CSV attachment for Excel."""
        query = _query(args)
        return _csv(query, services.kpi_rows(api_user(), query))
