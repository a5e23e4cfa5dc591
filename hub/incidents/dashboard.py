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
import re
from collections import Counter, defaultdict

import orjson
import pygal
from pygal.style import Style
from sqlalchemy import select

from hub import policy
from hub.extensions import db
from hub.incidents.fields import ATTACK_TYPES, IMPACT_FIGURES
from hub.incidents.models import Incident, IncidentSummary
from hub.incidents.reading import WITH_REPORT, latest_data, readable_incidents, record_incident_reads
from hub.principal import Principal

TOTALS = ("downtime_hours", "procedures_cancelled", "appointments_postponed", "diversions_count",
          "diversions_hours", "patients_transferred", "records_exposed")


def _cell(row: dict) -> tuple[str, str, str]:
    return row["month"], row["attack_type"], row["country"]


def _records(principal: Principal) -> list[dict]:
    """One row per incident the viewer may read or summary it may count, in published cells only:
    month, type, country, figures. Reads of other organisations' incidents are audited."""
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
    rows = policy.publishable_rows(rows, _cell, lambda row: row["org_id"], principal.org_id)
    record_incident_reads(principal, [row["incident"] for row in rows if row["source"] == "report"], "dashboard")
    return rows


def dashboard_figures(principal: Principal) -> dict:
    rows = _records(principal)
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


def dashboard_csv(principal: Principal) -> str:
    groups: dict[tuple, dict] = defaultdict(lambda: {"incidents": 0, **{key: 0 for key in TOTALS}})
    for row in _records(principal):
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


_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
_STYLE = Style(background="transparent", plot_background="transparent", font_family="system-ui, sans-serif")


def _chart(kind, title: str, labels: list[str], values: list, series: str) -> str:
    chart = kind(js=[], disable_xml_declaration=True, style=_STYLE, show_legend=False, height=320, width=640)
    chart.title = title
    chart.x_labels = labels
    chart.add(series, values)
    # pygal always embeds its tooltip configuration as an inline script; the page needs none
    # (and its CSP would refuse it), so the chart is served as pure SVG.
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def charts_svg(figures: dict) -> dict[str, str]:
    """Inline SVG charts (no script) for the dashboard page."""
    months = list(figures["per_month"])
    types = list(figures["by_attack_type"])
    countries = list(figures["by_country"])
    impact_labels = {key: IMPACT_FIGURES[key][0] for key in TOTALS}
    return {
        "per_month": _chart(pygal.Bar, "Incidents per month", months,
                            [figures["per_month"][m] for m in months], "incidents"),
        "by_attack_type": _chart(pygal.HorizontalBar, "By attack type", [ATTACK_TYPES.get(t, t) for t in types],
                                 [figures["by_attack_type"][t] for t in types], "incidents"),
        "by_country": _chart(pygal.Bar, "By country", countries,
                             [figures["by_country"][c] for c in countries], "incidents"),
        "impact": _chart(pygal.HorizontalBar, "Human impact (totals)", [impact_labels[k] for k in TOTALS],
                         [figures["totals"][k] for k in TOTALS], "total"),
    }
