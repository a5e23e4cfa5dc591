"""The home page: what needs me today, by role (issue 15).

A shell page: it asks each feature's services and renders; it decides nothing about access.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from hub import policy
from hub.alerts import services as alerts
from hub.db import utcnow
from hub.incidents import attention, cases
from hub.intel import reads
from hub.principal import current_principal

bp = Blueprint("home", __name__, template_folder="templates")

UNREAD_SHOWN = 8
CASES_AWAITING = ("received", "under_review")


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    principal = current_principal()
    since = utcnow() - timedelta(days=1)
    waiting_cases = None  # only law-enforcement organisations review cases
    if policy.is_law_enforcement(principal):
        waiting_cases = [case for case in cases.case_queue(principal) if case.status.value in CASES_AWAITING]
    return render_template(
        "home.html",
        clocks=attention.open_clocks(principal),
        advice=attention.recent_advice(principal),
        queue=attention.cert_queue_counts(principal),
        waiting_cases=waiting_cases,
        unread=alerts.notification_views(
            principal, alerts.list_notifications(principal, unread_only=True, limit=UNREAD_SHOWN).rows),
        unread_total=alerts.unread_count(principal),
        # Counted as the list it links to shows them: what members share, not supporting objects.
        new_items=reads.count_items(principal, reads.ItemFilters(added_after=since, status="current",
                                                                 supporting=False)),
        since=since,
    )
