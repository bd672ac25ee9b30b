"""The statistics page ``/statistik/`` and its API ``/statistik/api/...`` (Starlette routes).

=====================================  ==========================================================
path                                   answers
=====================================  ==========================================================
``/statistik/``                        the page: a chart and a table per report, a period
                                       selector, CSV links
``/statistik/api/``                    JSON: the reports (key, title, unit) and the months with data
``/statistik/api/{report}``            JSON: one report (``Report.as_json``)
``/statistik/api/{report}.csv``        the same as CSV (semicolon-separated, UTF-8 with BOM)
=====================================  ==========================================================

Every path takes ``from`` and ``to`` (``YYYY-MM``; default: the twelve months ending with the last
month with data) and one scope: none (national), ``lan=NN`` (one county) or ``vardgivare=HSA-ID``
(one care giver's exact figures, only for a caller the authorization table grants the statistics
contract for that care giver; else 403). National and county figures are suppressed (``reports``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from html import escape
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from intygstjanst.persistence.db import Database
from intygstjanst.statistics import charts, dimensions, store
from intygstjanst.statistics.reports import BY_KEY, NATIONAL, REPORTS, Report, Scope, available_months, report

# Whether the caller of a request may see one care giver's own statistics.
Access = Callable[[Request, str], bool]
DEFAULT_MONTHS = 12


class BadRequest(ValueError):
    pass


def _month(text: str, name: str) -> dt.date:
    try:
        year, month = text.split("-")
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise BadRequest(f"{name} must be a month written YYYY-MM, got {text!r}") from None


def _scope(request: Request, access: Access) -> Scope:
    care_giver = request.query_params.get("vardgivare")
    county = request.query_params.get("lan")
    if care_giver and county:
        raise BadRequest("give either lan or vardgivare, not both")
    if care_giver:
        if not access(request, care_giver):
            raise PermissionError(care_giver)
        return Scope("care_giver", care_giver)
    if county:
        if county not in dimensions.COUNTIES:
            raise BadRequest(f"lan must be a län code (01-25), got {county!r}")
        return Scope("county", county)
    return NATIONAL


def _period(request: Request, db: Database, scope: Scope) -> tuple[dt.date, dt.date]:
    first_text, last_text = request.query_params.get("from"), request.query_params.get("to")
    if last_text:
        last = _month(last_text, "to")
    else:
        with db.read() as conn:
            known = available_months(conn, scope)
        last = known[1] if known else dt.date.today().replace(day=1)
    if first_text:
        first = _month(first_text, "from")
    else:
        first = dt.date(last.year - (1 if last.month < DEFAULT_MONTHS else 0), (last.month - DEFAULT_MONTHS) % 12 + 1, 1)
    if first > last:
        raise BadRequest("from lies after to")
    if (last.year - first.year) * 12 + last.month - first.month >= 120:
        raise BadRequest("a period is at most 120 months")
    return first, last


def _reports(db: Database, keys: list[str], scope: Scope, first: dt.date, last: dt.date) -> list[Report]:
    with db.read() as conn:
        return [report(conn, key, scope, first, last) for key in keys]


def routes(db: Database, access: Access) -> list[BaseRoute]:
    def answer(request: Request, build: Callable[[Scope, dt.date, dt.date], Response]) -> Response:
        try:
            scope = _scope(request, access)
            first, last = _period(request, db, scope)
        except BadRequest as exc:
            return PlainTextResponse(str(exc), status_code=400)
        except PermissionError:
            return PlainTextResponse("Du har inte behörighet till vårdgivarens statistik.", status_code=403)
        return build(scope, first, last)

    async def page(request: Request) -> Response:
        def build(scope: Scope, first: dt.date, last: dt.date) -> Response:
            shown = _reports(db, [d.key for d in REPORTS], scope, first, last)
            return HTMLResponse(_page(shown, scope, first, last))

        return await run_in_threadpool(answer, request, build)

    async def index(request: Request) -> Response:
        def build(scope: Scope, first: dt.date, last: dt.date) -> Response:
            with db.read() as conn:
                known = available_months(conn, scope)
            return JSONResponse({
                "reports": [{"report": d.key, "title": d.title, "unit": d.unit, "per_month": d.per_month} for d in REPORTS],
                "months_with_data": {"from": known[0].isoformat()[:7], "to": known[1].isoformat()[:7]} if known else None,
            })

        return await run_in_threadpool(answer, request, build)

    async def one(request: Request) -> Response:
        name = request.path_params["report"]
        as_csv = name.endswith(".csv")
        key = name.removesuffix(".csv")
        if key not in BY_KEY:
            return PlainTextResponse(f"no report {key!r}; the reports are {', '.join(BY_KEY)}", status_code=404)

        def build(scope: Scope, first: dt.date, last: dt.date) -> Response:
            (shown,) = _reports(db, [key], scope, first, last)
            if as_csv:
                return Response(
                    _csv(shown), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{key}-{first.isoformat()[:7]}-{last.isoformat()[:7]}.csv"'},
                )
            return Response(json.dumps(shown.as_json(), ensure_ascii=False), media_type="application/json")

        return await run_in_threadpool(answer, request, build)

    return [
        Route("/statistik/", page),
        Route("/statistik/api/", index),
        Route("/statistik/api/{report}", one),
    ]


def _csv(shown: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    labels = [label for _, label in shown.categories]
    if shown.definition.per_month:
        writer.writerow(["Månad", *labels, "Totalt", *(["Andel med kompletteringsbegäran"] if _is_share(shown) else [])])
        for month in shown.months:
            share = shown.share(month) if _is_share(shown) else None
            writer.writerow([
                month.isoformat()[:7], *(shown.count(month, code) for code, _ in shown.categories), shown.month_total(month),
                *([_percent(share)] if _is_share(shown) else []),
            ])
    else:
        writer.writerow(["Kategori", "Antal"])
        for code, label in shown.categories:
            writer.writerow([label, shown.category_total(code)])
    writer.writerow(["Totalt", *([""] * (len(labels)) if shown.definition.per_month else []), shown.total])
    # Spreadsheet programs read UTF-8 (å, ä, ö) only with the byte-order mark.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _is_share(shown: Report) -> bool:
    return shown.definition.key == store.COMPLETIONS


def _percent(share: float | None) -> str:
    return "" if share is None else f"{100 * share:.1f} %".replace(".", ",")


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
h1{font-size:1.6rem} h2{font-size:1.2rem;margin-top:2.5rem}
form{display:flex;gap:1rem;align-items:end;flex-wrap:wrap;background:#f4f4f4;padding:1rem}
label{display:flex;flex-direction:column;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;margin-top:.5rem}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right} th:first-child,td:first-child{text-align:left}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.8rem;padding:0;font-size:.85rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem}
.note{font-size:.85rem;color:#555}
"""


def _page(shown: list[Report], scope: Scope, first: dt.date, last: dt.date) -> str:
    params = {"from": first.isoformat()[:7], "to": last.isoformat()[:7]}
    if scope.kind == "county":
        params["lan"] = scope.id
    elif scope.kind == "care_giver":
        params["vardgivare"] = scope.id
    where = {"national": "Hela landet", "county": dimensions.COUNTIES.get(scope.id, scope.id), "care_giver": f"Vårdgivare {scope.id}"}[scope.kind]
    counties = "".join(
        f'<option value="{code}"{" selected" if scope.kind == "county" and scope.id == code else ""}>{escape(name)}</option>'
        for code, name in dimensions.COUNTIES.items()
    )
    hidden = f'<input type="hidden" name="vardgivare" value="{escape(scope.id)}">' if scope.kind == "care_giver" else (
        f'<label>Län<select name="lan"><option value="">Hela landet</option>{counties}</select></label>'
    )
    note = (
        "Antal under 5 visas som 0, och fler celler döljs där det behövs för att inget litet antal ska kunna räknas fram; "
        "summorna är summor av de visade talen."
        if scope.suppressed else "Vårdgivarens egna, exakta antal."
    )
    sections = []
    for r in shown:
        query = urlencode(params)
        sections.append(
            f'<section id="{r.definition.key}"><h2>{escape(r.definition.title)}</h2>'
            f"{charts.chart(r)}{charts.legend(r)}"
            f'<details open><summary>Tabell</summary>{_table(r)}</details>'
            f'<p><a href="api/{r.definition.key}.csv?{escape(query)}">Ladda ner CSV</a> · '
            f'<a href="api/{r.definition.key}?{escape(query)}">JSON</a></p></section>'
        )
    return (
        '<!DOCTYPE html><html lang="sv"><head><meta charset="utf-8"><title>Statistik – intygstjänsten</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head><body>'
        f"<h1>Statistik om sjukfall, intyg och meddelanden</h1><p>{escape(where)}, "
        f"{charts.month_label(first)} – {charts.month_label(last)}.</p>"
        f'<form method="get" action=""><label>Från<input type="month" name="from" value="{params["from"]}"></label>'
        f'<label>Till<input type="month" name="to" value="{params["to"]}"></label>{hidden}'
        f'<button type="submit">Visa</button></form><p class="note">{note} Sjukfall räknas i den månad de började.</p>'
        + "".join(sections)
        + "</body></html>"
    )


def _table(r: Report) -> str:
    if r.definition.per_month:
        head = "".join(f"<th>{escape(label)}</th>" for _, label in r.categories)
        share_head = "<th>Andel</th>" if _is_share(r) else ""
        rows = "".join(
            f"<tr><td>{charts.month_label(m)}</td>"
            + "".join(f"<td>{r.count(m, code)}</td>" for code, _ in r.categories)
            + f"<td>{r.month_total(m)}</td>"
            + (f"<td>{_percent(r.share(m))}</td>" if _is_share(r) else "")
            + "</tr>"
            for m in r.months
        )
        foot = (
            "<tr><th>Totalt</th>" + "".join(f"<th>{r.category_total(code)}</th>" for code, _ in r.categories)
            + f"<th>{r.total}</th>" + (f"<th>{_percent(r.share())}</th>" if _is_share(r) else "") + "</tr>"
        )
        return f'<table class="data"><tr><th>Månad</th>{head}<th>Totalt</th>{share_head}</tr>{rows}{foot}</table>'
    rows = "".join(f"<tr><td>{escape(label)}</td><td>{r.category_total(code)}</td></tr>" for code, label in r.categories)
    return f'<table class="data"><tr><th>Kategori</th><th>Antal</th></tr>{rows}<tr><th>Totalt</th><th>{r.total}</th></tr></table>'
