"""Managing an organisation's blocklist feeds, and recognising a feed's own token.

Plain functions over the Feed model; the REST handlers and pages call them. Every change is
audited for the organisation's admin.
"""
from __future__ import annotations

import secrets
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import datetime

import orjson
from flask import current_app
from sqlalchemy import select

from hub import audit, policy
from hub.audit import AuditEvent
from hub.accounts.models import Organisation
from hub.accounts.services import token_digest, token_from_authorization
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.extensions import db
from hub.feeds import export
from hub.feeds.models import Feed
from hub.intel.observables import HASH_LENGTHS
from hub.principal import Principal
from hub.tlp import TLP

# The observable kinds of hub/intel/observables.py a feed may carry.
FEED_KINDS = ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", *HASH_LENGTHS)
# What a firewall blocks on; a feed created without kinds carries these.
DEFAULT_KINDS = ("ipv4-addr", "ipv6-addr", "domain-name", "url")
# Every TLP an export to a whole organisation can honour (not RED).
FEED_TLPS = tuple(tlp for tlp in TLP if policy.organisation_wide_tlp(tlp))
FEED_FIELDS = ("name", "kinds", "tlps", "min_confidence")
MAX_NAME_LENGTH = 100
# Feed tokens look unlike API tokens (hch_), so that neither is ever mistaken for the other.
FEED_TOKEN_PREFIX = "hcf_"


def may_manage_feeds(principal: Principal) -> bool:
    """Analysts and admins create, rotate and delete their organisation's feeds; viewers list them
    (URLs only: a token is shown once, to whoever created or rotated it)."""
    return principal.can_share


def _new_token() -> tuple[str, str]:
    token = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def _choices(field: str, values, allowed: tuple[str, ...], default: tuple[str, ...], problems: list,
             parse=str) -> list[str]:
    """The distinct allowed values of a list field (`default` when absent); problems noted."""
    if values is None:
        return list(default)
    if not isinstance(values, list) or not values:
        problems.append({"field": field, "error": "a non-empty list, from: " + ", ".join(allowed)})
        return []
    chosen = []
    for index, value in enumerate(values):
        error = "one of " + ", ".join(allowed)
        try:
            parsed = parse(value) if isinstance(value, str) else None
        except ValueError as exc:
            parsed, error = None, str(exc) if isinstance(exc, RedInFeed) else error
        if parsed not in allowed:
            problems.append({"field": f"{field}[{index}]", "value": value if isinstance(value, str) else None,
                             "error": error})
        elif parsed not in chosen:
            chosen.append(parsed)
    return chosen


class RedInFeed(ValueError):
    """TLP:RED asked of a feed: said plainly, so the caller learns why and not just 'not allowed'."""


def _tlp_value(text: str) -> str:
    tlp = TLP.parse(text)
    if not policy.organisation_wide_tlp(tlp):
        raise RedInFeed("TLP:RED reaches named individuals only; a firewall feed cannot honour that")
    return tlp.value


def validated_settings(name, kinds=None, tlps=None, min_confidence=None) -> dict:
    """A feed's settings from raw input (REST body or form); ValidationFailed lists every problem."""
    problems: list[dict] = []
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        problems.append({"field": "name", "error": f"a name of 1 to {MAX_NAME_LENGTH} characters"})
    kind_values = _choices("kinds", kinds, FEED_KINDS, DEFAULT_KINDS, problems)
    tlp_choices = tuple(tlp.value for tlp in FEED_TLPS)
    tlp_values = _choices("tlps", tlps, tlp_choices, tlp_choices, problems, parse=_tlp_value)
    if min_confidence is None:
        min_confidence = 0
    if isinstance(min_confidence, bool) or not isinstance(min_confidence, int) or not 0 <= min_confidence <= 100:
        problems.append({"field": "min_confidence",
                         "value": min_confidence if isinstance(min_confidence, (int, str)) else None,
                         "error": "an integer from 0 to 100 (STIX confidence)"})
    if problems:
        raise ValidationFailed("invalid feed settings", problems)
    return {"name": name.strip(), "kinds": kind_values, "tlps": tlp_values, "min_confidence": min_confidence}


def create_feed(principal: Principal, name, kinds=None, tlps=None, min_confidence=None) -> tuple[Feed, str]:
    """A new feed of the principal's organisation; returns it with its token, shown this once."""
    if not may_manage_feeds(principal):
        raise Forbidden("only analysts and admins create feeds")
    settings = validated_settings(name, kinds, tlps, min_confidence)
    token, digest = _new_token()
    feed = Feed(public_id=secrets.token_urlsafe(16), org_id=principal.org_id, created_by_id=principal.user_id,
                token_hash=digest, token_prefix=token[:12], **settings)
    db.session.add(feed)
    db.session.flush()
    audit.record("feed_created", principal, feed=feed.public_id, name=feed.name, kinds=feed.kinds,
                 tlps=feed.tlps, min_confidence=feed.min_confidence)
    db.session.commit()
    return feed, token


def list_feeds(principal: Principal) -> list[Feed]:
    """The organisation's feeds, oldest first; every member may list them."""
    return list(db.session.scalars(
        select(Feed).where(policy.organisation_feeds(principal)).order_by(Feed.id)))


def get_feed(principal: Principal, public_id: str) -> Feed:
    """One of the organisation's feeds; another organisation's answers as if absent."""
    feed = db.session.scalar(select(Feed).where(Feed.public_id == public_id, policy.organisation_feeds(principal)))
    if feed is None:
        raise NotFound("no such feed")
    return feed


def _managed_feed(principal: Principal, public_id: str) -> Feed:
    feed = get_feed(principal, public_id)
    if not may_manage_feeds(principal):
        raise Forbidden("only analysts and admins manage feeds")
    return feed


def rotate_token(principal: Principal, public_id: str) -> tuple[Feed, str]:
    """A new token for the feed; the old one stops working at once."""
    feed = _managed_feed(principal, public_id)
    token, feed.token_hash = _new_token()
    feed.token_prefix = token[:12]
    audit.record("feed_token_rotated", principal, feed=feed.public_id, name=feed.name)
    db.session.commit()
    return feed, token


def delete_feed(principal: Principal, public_id: str) -> None:
    """Delete the feed: its URL answers 401 from now on. The row stays for the audit trail."""
    feed = _managed_feed(principal, public_id)
    feed.deleted = True
    audit.record("feed_deleted", principal, feed=feed.public_id, name=feed.name)
    db.session.commit()


def feed_for_authorization(public_id: str, authorization: str | None) -> Feed | None:
    """The live feed this URL names, if the header carries that feed's own token; else None.

    One indexed lookup on (token hash, feed id): an unknown feed, a deleted one and a wrong
    token (another feed's, a user's API token) are the same None, so nothing tells them apart.
    A deactivated organisation's feeds answer the same None: its members may read nothing more.
    """
    token = token_from_authorization(authorization)
    if not token or not token.startswith(FEED_TOKEN_PREFIX):
        return None
    return db.session.scalar(select(Feed).join(Organisation, Organisation.id == Feed.org_id).where(
        Feed.token_hash == token_digest(token), Feed.public_id == public_id, Feed.deleted.is_(False),
        policy.reads_at_all()))


@dataclass(frozen=True)
class Poll:
    """A feed poll's answer: 200 with a body to stream, or 304 Not Modified."""

    fmt: str
    etag: str
    last_modified: datetime
    body: Iterator[bytes] | None

    @property
    def not_modified(self) -> bool:
        return self.body is None


def poll(feed: Feed, fmt: str, known_etags: Container[str] = (), modified_since: datetime | None = None) -> Poll:
    """One poll of a feed in `fmt` (txt, csv, rules): audited once, `last_polled_at` set, then
    either "not modified" (the client's ETag, or its date, still holds) or the body to stream.

    The ETag and Last-Modified come from the hub-wide change counter and the last expiry passed
    (`export.change_state`, one small query), so neither answer waits for the lines: a 304 costs
    that query, and a 200 streams its first line as soon as the feed's query yields it.
    """
    lines = export.FeedFilter.of(feed)
    state = export.change_state()
    etag = export.feed_tag(current_app.config["SECRET_KEY"], lines, state, fmt)
    changed_at = export.last_modified(state, feed.created_at)
    if known_etags:  # RFC 9110 13.1.3: If-None-Match, when sent, decides alone
        not_modified = etag in known_etags
    else:
        not_modified = modified_since is not None and export.not_modified_since(state, feed.created_at, modified_since)
    feed.last_polled_at = state.now
    # Once per poll, not per line: who polled is the feed's organisation, through its token.
    db.session.add(AuditEvent(
        action="feed_poll", actor_org_id=feed.org_id, subject_org_id=feed.org_id,
        detail=orjson.dumps({"feed": feed.public_id, "name": feed.name, "format": fmt,
                             "status": 304 if not_modified else 200}).decode()))
    db.session.commit()
    # The lines are read as of the tag's clock: an expiry the tag has not counted yet is not
    # applied, so the next poll's tag moves when it is.
    return Poll(fmt, etag, changed_at, None if not_modified else export.feed_body(lines, fmt, state.now))
