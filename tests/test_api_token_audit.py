"""Token use is audited: once per token per minute of use, on every channel."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.accounts.models import ApiToken
from hub.audit import AuditEvent
from hub.extensions import db
from tests import factories as f


def token_uses() -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "token_use")).all()


def test_a_minute_of_token_use_is_one_audit_event(api):
    analyst = f.make_user(f.make_org("hospital"))
    client = api(analyst)
    for _ in range(3):
        assert client.get("/objects").status_code == 200
    [event] = token_uses()
    assert event.actor_user_id == analyst.id and event.subject_org_id == analyst.org_id

    token = db.session.scalars(select(ApiToken)).one()
    token.last_used -= timedelta(minutes=2)
    db.session.commit()
    client.get("/objects")
    assert len(token_uses()) == 2
