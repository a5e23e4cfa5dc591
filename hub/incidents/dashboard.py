"""The incident dashboard: what the viewer may read, plus anonymised summaries.

Incidents come from `readable_incidents` (the sharing policy); a summary is counted only when
its incident is not readable to the viewer, so nothing counts twice and a count never reveals
an incident the viewer may not read. Every figure, series, CSV row and chart is computed over
the rows the small-cell rule publishes (`policy.publishable_rows`, rule 12: cells of month,
attack type and country built from at least 3 organisations, plus the viewer's own incidents),
so no total minus the visible cells reveals a withheld one. Charts are SVG rendered on the server by pygal, without its JavaScript.
"""
from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone

import orjson
import pygal
from pygal.style import Style
from sqlalchemy import select

from hub import policy
from hub.db import as_utc
from hub.extensions import db
from hub.errors import ValidationFailed
from hub.incidents.fields import ATTACK_TYPES, IMPACT_FIGURES
from hub.incidents.models import Incident, IncidentSummary, NisSubmission
from hub.incidents.nis2 import EARLY_WARNING_AFTER, NOTIFICATION_AFTER, Stage
from hub.incidents.reading import WITH_REPORT, latest_data, readable_incidents, record_incident_reads
from hub.principal import Principal

TOTALS = ("downtime_hours", "procedures_cancelled", "appointments_postponed", "diversions_count",
          "diversions_hours", "patients_transferred", "records_exposed")


def _cell(row: dict) -> tuple[str, str, str]:
    return row["month"], row["attack_type"], row["country"]


@dataclass(frozen=True)
class Selection:
    """The dashboard's filters. Each selects whole cells (months, one attack type, one country),
    so a filtered figure is a sum of published cells and no filter can single out a small one."""

    period: str = "all"  # "all", "12m" (the last twelve months) or a quarter, "2026-Q4"
    country: str | None = None
    attack_type: str | None = None

    def months(self, today: date) -> tuple[str, str] | None:
        """The first and last month ("YYYY-MM") of the period, or None for all time."""
        if self.period == "12m":
            first = date(today.year - (1 if today.month < 12 else 0), today.month % 12 + 1, 1)
            return first.strftime("%Y-%m"), today.strftime("%Y-%m")
        quarter = _QUARTER.fullmatch(self.period)
        if quarter:
            year, number = int(quarter.group(1)), int(quarter.group(2))
            return f"{year:04d}-{3 * number - 2:02d}", f"{year:04d}-{3 * number:02d}"
        return None

    def keeps(self, row: dict, today: date) -> bool:
        span = self.months(today)
        return ((span is None or span[0] <= row["month"] <= span[1])
                and (self.country is None or row["country"] == self.country)
                and (self.attack_type is None or row["attack_type"] == self.attack_type))


_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


def quarter_of(day: date) -> str:
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def is_quarter(period: str) -> bool:
    return bool(_QUARTER.fullmatch(period))


def quarter_label(quarter: str) -> str:
    year, number = quarter.split("-Q")
    return f"Q{number} {year}"


def period_choices(today: date, quarters: int = 8) -> list[tuple[str, str]]:
    """All time, the last twelve months, and the last `quarters` calendar quarters, newest first."""
    choices = [("all", "All time"), ("12m", "Last 12 months")]
    year, number = today.year, (today.month - 1) // 3 + 1
    for _ in range(quarters):
        choices.append((f"{year:04d}-Q{number}", quarter_label(f"{year:04d}-Q{number}")))
        year, number = (year - 1, 4) if number == 1 else (year, number - 1)
    return choices


def parse_selection(args, today: date) -> Selection:
    """The filters from a query string; ValidationFailed names each value it does not know."""
    period = (args.get("period") or "all").strip()
    country = (args.get("country") or "").strip().upper() or None
    attack_type = (args.get("attack_type") or "").strip() or None
    problems = []
    if period not in ("all", "12m") and not _QUARTER.fullmatch(period):
        problems.append({"field": "period", "value": period, "error": "choose a period from the list"})
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        problems.append({"field": "country", "value": country, "error": "a two-letter country code, e.g. CZ"})
    if attack_type is not None and attack_type not in ATTACK_TYPES:
        problems.append({"field": "attack_type", "value": attack_type, "error": "choose an attack type from the list"})
    if problems:
        raise ValidationFailed("unknown filter", problems)
    return Selection(period=period, country=country, attack_type=attack_type)


def _published_rows(principal: Principal) -> list[dict]:
    """One row per incident the viewer may read or summary it may count, in published cells only:
    month, type, country, figures."""
    incidents = db.session.scalars(readable_incidents(principal).options(*WITH_REPORT)).all()
    readable_ids = {incident.id for incident in incidents}
    rows = []
    for incident in incidents:
        impact = latest_data(incident).get("impact") or {}
        rows.append({"month": incident.detected_at.strftime("%Y-%m"), "attack_type": incident.attack_type,
                     "country": incident.owner.country, "figures": impact, "source": "report",
                     "org_id": incident.owner_org_id, "incident": incident})
    summaries = db.session.execute(
        select(IncidentSummary, Incident.owner_org_id)
        .join(Incident, Incident.id == IncidentSummary.incident_id)
        .where(IncidentSummary.withdrawn.is_(False)))
    for summary, org_id in summaries:
        if summary.incident_id in readable_ids:
            continue
        rows.append({"month": summary.month, "attack_type": summary.attack_type, "country": summary.country,
                     "figures": orjson.loads(summary.figures), "source": "summary", "org_id": org_id})
    return policy.publishable_rows(rows, _cell, lambda row: row["org_id"], principal.org_id)


def _records(principal: Principal, selection: Selection | None = None, today: date | None = None) -> list[dict]:
    """The published rows the selection keeps. Reads of other organisations' incidents are audited."""
    rows = _published_rows(principal)
    if selection is not None:
        today = today or datetime.now(timezone.utc).date()
        rows = [row for row in rows if selection.keeps(row, today)]
    record_incident_reads(principal, [row["incident"] for row in rows if row["source"] == "report"], "dashboard")
    return rows


def published_countries(principal: Principal) -> list[str]:
    """The countries the filter offers: those of published cells only."""
    return sorted({row["country"] for row in _published_rows(principal) if row["country"]})


def dashboard_figures(principal: Principal, selection: Selection | None = None, today: date | None = None) -> dict:
    return figures_of(_records(principal, selection, today))


def dashboard_rows(principal: Principal, selection: Selection, today: date) -> list[dict]:
    """The rows every figure of one dashboard page is computed from (published, then selected)."""
    return _records(principal, selection, today)


def figures_of(rows: list[dict]) -> dict:
    totals = {key: 0 for key in TOTALS}
    for row in rows:
        for key in TOTALS:
            value = row["figures"].get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                totals[key] += value
    return {
        "incidents": len(rows),
        "from_summaries": sum(1 for row in rows if row["source"] == "summary"),
        "per_month": dict(sorted(Counter(row["month"] for row in rows).items())),
        "by_attack_type": dict(sorted(Counter(row["attack_type"] for row in rows).items())),
        "by_country": dict(sorted(Counter(row["country"] for row in rows).items())),
        "patient_care_disrupted": sum(1 for row in rows if row["figures"].get("patient_care_disrupted") == "yes"),
        "totals": totals,
    }


def dashboard_csv(principal: Principal, selection: Selection | None = None) -> str:
    groups: dict[tuple, dict] = defaultdict(lambda: {"incidents": 0, **{key: 0 for key in TOTALS}})
    for row in _records(principal, selection):
        group = groups[_cell(row)]
        group["incidents"] += 1
        for key in TOTALS:
            value = row["figures"].get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                group[key] += value
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["month", "attack_type", "country", "incidents", *TOTALS])
    for (month, attack_type, country), values in sorted(groups.items()):
        writer.writerow([month, attack_type, country, values["incidents"], *(values[key] for key in TOTALS)])
    return out.getvalue()


# --- NIS2 compliance (national CERTs) ------------------------------------------------------

NIS2_DEADLINES = {Stage.early_warning: EARLY_WARNING_AFTER, Stage.notification: NOTIFICATION_AFTER}


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """The first instant of a quarter ("2026-Q4") and of the next one, UTC."""
    match = _QUARTER.fullmatch(quarter)
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime(year, 3 * number - 2, 1, tzinfo=timezone.utc)
    end = datetime(year + (number == 4), 1 if number == 4 else 3 * number + 1, 1, tzinfo=timezone.utc)
    return start, end


def deadlines_met(clocks: list[tuple[datetime, datetime | None]], start: datetime, end: datetime,
                  now: datetime) -> tuple[int, int]:
    """(on time, due) over deadlines that fell in [start, end) and have passed by `now`.

    `clocks` pairs each deadline with the first submission for it (None: never sent). A deadline
    still running is not counted yet, unless its report is already in (then it is on time)."""
    on_time = due = 0
    for due_at, submitted_at in clocks:
        if not start <= due_at < end:
            continue
        if due_at > now and (submitted_at is None or submitted_at > due_at):
            continue
        due += 1
        on_time += submitted_at is not None and submitted_at <= due_at
    return on_time, due


def nis2_compliance(principal: Principal, rows: list[dict], quarter: str, now: datetime) -> list[dict]:
    """For a national CERT: how many early warnings and notifications due in `quarter` arrived on
    time, over the significant incidents among the published rows (so rule 12 holds here too)
    that it follows: NIS2 clocks and submissions are the hospital's and its own country's CERT's."""
    incidents = [row["incident"] for row in rows
                 if row["source"] == "report" and row["incident"].significant and row["incident"].aware_at
                 and policy.is_national_cert_of(principal, row["incident"])]
    first_sent: dict[tuple[int, str], datetime] = {}
    if incidents:
        found = db.session.execute(
            select(NisSubmission.incident_id, NisSubmission.stage, NisSubmission.submitted_at)
            .where(NisSubmission.incident_id.in_([incident.id for incident in incidents])))
        for incident_id, stage, submitted_at in found:
            key = (incident_id, stage)
            if key not in first_sent or submitted_at < first_sent[key]:
                first_sent[key] = submitted_at
    start, end = quarter_bounds(quarter)
    figures = []
    for stage, after in NIS2_DEADLINES.items():
        clocks = [(as_utc(incident.aware_at) + after, _utc(first_sent.get((incident.id, stage.value))))
                  for incident in incidents]
        on_time, due = deadlines_met(clocks, start, end, now)
        figures.append({"stage": stage.value, "label": stage.label + "s", "on_time": on_time, "due": due})
    return figures


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


# --- charts --------------------------------------------------------------------------------

def integer_ticks(top: float, most: int = 6) -> list[int]:
    """Whole-number axis ticks from 0 to at least `top`, in steps of 1, 2 or 5 times a power of
    ten, at most `most` steps: counts are never drawn against 0.5."""
    top = max(math.ceil(top), 1)
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            step = multiple * magnitude
            if math.ceil(top / step) <= most:
                return list(range(0, math.ceil(top / step) * step + 1, step))
        magnitude *= 10


_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
# One colour per chart, from a palette readable by colour-blind readers (Okabe-Ito).
CHART_COLOURS = {"per_month": "#0072B2", "by_attack_type": "#D55E00", "by_country": "#009E73",
                 "care": "#CC79A7", "hours": "#E69F00"}
IMPACT_CHARTS = {
    "care": ("Patient care disrupted (number of each)",
             ("procedures_cancelled", "appointments_postponed", "diversions_count", "patients_transferred")),
    "hours": ("Hours lost", ("downtime_hours", "diversions_hours")),
}


def _chart(kind, name: str, title: str, labels: list[str], values: list, unit: str) -> str:
    style = Style(background="transparent", plot_background="transparent", font_family="system-ui, sans-serif",
                  colors=(CHART_COLOURS[name],), value_font_size=13, label_font_size=12, major_label_font_size=12,
                  title_font_size=15)
    ticks = integer_ticks(max(values, default=0))
    horizontal = kind is pygal.HorizontalBar
    chart = kind(js=[], disable_xml_declaration=True, style=style, show_legend=False, width=640,
                 height=max(200, 60 + 34 * len(labels)) if horizontal else 300,
                 print_values=True, value_formatter=lambda value: f"{value:,.0f}" if value == int(value) else f"{value:,.1f}",
                 y_labels=ticks, range=(0, ticks[-1]), y_title=unit if not horizontal else None,
                 x_title=unit if horizontal else None, show_minor_x_labels=True, truncate_label=-1)
    chart.title = title
    chart.x_labels = labels
    chart.add(unit, values)
    # pygal always embeds its tooltip configuration as an inline script; the page needs none
    # (and its CSP would refuse it), so the chart is served as pure SVG.
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def charts_svg(figures: dict) -> dict[str, str]:
    """Inline SVG charts (no script) for the dashboard page: one unit per chart, whole-number
    ticks, the value written on each bar. Charts with nothing to draw are left out."""
    months = list(figures["per_month"])
    types = list(figures["by_attack_type"])
    countries = list(figures["by_country"])
    charts = {}
    if months:
        charts["per_month"] = _chart(pygal.Bar, "per_month", "Incidents per month", months,
                                     [figures["per_month"][m] for m in months], "incidents")
    if types:
        charts["by_attack_type"] = _chart(pygal.HorizontalBar, "by_attack_type", "Incidents by attack type",
                                          [ATTACK_TYPES.get(t, t) for t in types],
                                          [figures["by_attack_type"][t] for t in types], "incidents")
    if countries:
        charts["by_country"] = _chart(pygal.HorizontalBar, "by_country", "Incidents by country", countries,
                                      [figures["by_country"][c] for c in countries], "incidents")
    for name, (title, keys) in IMPACT_CHARTS.items():
        values = [figures["totals"][key] for key in keys]
        if any(values):
            unit = "hours" if name == "hours" else "number"
            charts[name] = _chart(pygal.HorizontalBar, name, title, [IMPACT_FIGURES[key][0] for key in keys],
                                  values, unit)
    return charts
