"""The audit log as an organisation admin reads it: names instead of ids, times instead of numbers."""
from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import select

from hub import policy
from hub.accounts.models import Organisation, SharingGroup, User
from hub.audit import AuditEvent
from hub.extensions import db
from hub.db import us_to_datetime
from hub.intel.models import SharedItem

# Detail keys that hold an audience as ids (ingest.describe_grants).
AUDIENCE_KEYS = ("audience", "added")
WITHHELD = "withheld (TLP:RED)"
CONCEALED = "an anonymous source"


@dataclass
class AuditRow:
    event: AuditEvent
    actor: str | None
    actor_org: str | None
    detail: list[tuple[str, str]]


class _Directory:
    """Names of the users, organisations and groups a page of events mentions, in three queries."""

    def __init__(self, events: list[AuditEvent], details: list[dict]):
        user_ids = {e.actor_user_id for e in events if e.actor_user_id}
        org_ids = {e.actor_org_id for e in events if e.actor_org_id}
        group_ids: set[int] = set()
        for detail in details:
            for audience in _audiences(detail):
                user_ids.update(audience.get("user_ids") or [])
                org_ids.update(audience.get("org_ids") or [])
                group_ids.update(audience.get("group_ids") or [])
        self.users = self._names(User.id, User.email, user_ids)
        self.orgs = self._names(Organisation.id, Organisation.slug, org_ids)
        self.groups = self._names(SharingGroup.id, SharingGroup.slug, group_ids)
        item_ids = {e.item_id for e in events if e.item_id}
        self.concealed = policy.concealed_recipients(item_ids)
        self.red_items = set(db.session.scalars(
            select(SharedItem.id).where(SharedItem.id.in_(item_ids), policy.audit_content_withheld())
        )) if item_ids else set()

    @staticmethod
    def _names(id_column, name_column, ids) -> dict[int, str]:
        ids = {i for i in ids if isinstance(i, int)}
        if not ids:
            return {}
        return dict(db.session.execute(select(id_column, name_column).where(id_column.in_(ids))).all())

    def audience(self, value: dict, concealed: set[int] = frozenset()) -> str:
        parts = ["every member organisation"] if value.get("community") else []
        for key, label, names in (("org_ids", "orgs", self.orgs), ("group_ids", "groups", self.groups),
                                  ("user_ids", "users", self.users)):
            # An anonymous source receiving the item (a sighting of its item) is never named.
            shown = [i for i in value.get(key) or [] if not (key == "org_ids" and i in concealed)]
            if shown:
                parts.append(f"{label}: " + ", ".join(names.get(i, f"#{i}") for i in shown))
        return "; ".join(parts) or "own organisation"


def _audiences(detail: dict) -> list[dict]:
    return [detail[key] for key in AUDIENCE_KEYS if isinstance(detail.get(key), dict)]


def _parse(detail: str) -> dict:
    try:
        data = orjson.loads(detail or "{}")
    except orjson.JSONDecodeError:
        return {"detail": detail}
    return data if isinstance(data, dict) else {"detail": data}


def _pairs(data: dict, directory: _Directory, *, red: bool = False,
           concealed: set[int] = frozenset()) -> list[tuple[str, str]]:
    pairs = []
    for key, value in sorted(data.items()):
        # For a RED item the admin learns who did what when, never what it says (policy.py).
        if not policy.audit_detail_shown(key, content_withheld=red):
            text = WITHHELD
        elif key in AUDIENCE_KEYS and isinstance(value, dict):
            text = directory.audience(value, concealed)
        elif key == "modified_us" and isinstance(value, int):
            key, text = "version", us_to_datetime(value).strftime("%Y-%m-%d %H:%M:%S UTC")
        elif isinstance(value, str):
            text = value
        else:
            text = orjson.dumps(value).decode()
        pairs.append((key.replace("_", " "), text))
    return pairs


def audit_rows(events: list[AuditEvent]) -> list[AuditRow]:
    details = [_parse(event.detail) for event in events]
    directory = _Directory(events, details)
    rows = []
    for event, detail in zip(events, details):
        concealed = directory.concealed.get(event.item_id, set())
        # A read by an anonymous source of what the item refers to would name that source.
        hidden = event.actor_org_id in concealed
        rows.append(AuditRow(
            event=event,
            actor=None if hidden else directory.users.get(event.actor_user_id),
            actor_org=CONCEALED if hidden else directory.orgs.get(event.actor_org_id),
            detail=_pairs(detail, directory, red=event.item_id in directory.red_items, concealed=concealed),
        ))
    return rows
