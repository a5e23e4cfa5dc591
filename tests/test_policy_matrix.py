"""The policy matrix: every org kind x TLP x audience kind x read path, against an oracle.

One world is shared and read: for every organisation kind there is a source organisation that
shares an indicator and an incident at every TLP with every audience kind, an organisation that
those audiences name, one they never name (its only user is a hub operator), and an organisation
that shares only anonymously. Each reader's expected visible set comes from tests/policy_oracle.py,
an independent reading of SHARING_POLICY.md, and every read path must show exactly that set.

The world also files incident reports through POST /api/v1/incidents (default audience, named
vendors and police, consent granted to one police unit and revoked for another, summaries
published), and shares relationships and sightings across TLPs and audiences, one of them to an
id the hub does not hold (rules 6, 7 and 12). Columns: service lists, search and get; REST lists,
search and get; web lists, search and item pages; TAXII (the `everything` collection and
get-object); the in-app alerts of the fan-out (every reader subscribed to everything); incident
lists and pages (REST and web) and law-enforcement cases; the dashboard (JSON and CSV) and the
anonymised summaries.

The world is built once for the module (building it takes seconds and every test only reads it),
so this module replaces conftest's per-test cleanup with one cleanup when the module ends.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import func, select, text

from hub.accounts import services as accounts
from hub.accounts.models import User
from hub.alerts.models import Notification
from hub.accounts.sessions import start_session
from hub.principal import Role
from hub.errors import NotFound, ValidationFailed
from hub.extensions import db
from hub.intel import reads
from hub.intel.audience import resolve_audience
from hub.intel.ingest import share_objects
from hub.intel.manage import revoke
from hub.intel.models import SharedItem
from hub.incidents.models import Incident, IncidentItem
from hub.tlp import TLP
from hub.principal import Principal
from tests import alerts_support, factories, incidents_support
from tests.policy_oracle import (
    AUDIENCE_KINDS,
    ORG_KINDS,
    TLPS,
    ConsentSpec,
    GroupSpec,
    ItemSpec,
    OrgSpec,
    UserSpec,
    ReportSpec,
    WorldSpec,
    dashboard_rows,
    default_incident_audience,
    may_read,
    reached_orgs,
    sees_source,
    summaries_seen,
    visible_cases,
    visible_items,
)

SERVICE_PAGE = 9
API_PAGE = 25
MISSING_ID = "indicator--00000000-0000-4000-8000-000000000000"
COUNTRIES = {"hospital": "CZ", "national_cert": "CZ", "law_enforcement": "CZ", "vendor": "DE", "peer_hub": "BR"}


# --- the world, planned as plain data ---------------------------------------------------------

def _slug(kind: str) -> str:
    return kind.replace("_", "-")


def plan_world() -> WorldSpec:
    world = WorldSpec()
    for kind in ORG_KINDS:
        label = kind.replace("_", " ").title()
        country = COUNTRIES[kind]
        for role, name in (("src", f"Sharing {label}"), ("in", f"Audience {label}"),
                           ("out", f"Bystander {label}"), ("anon", f"Hidden Source {label} Quokka")):
            slug = f"{role}-{_slug(kind)}"
            world.orgs[slug] = OrgSpec(slug, name, kind, country)
        s = _slug(kind)
        for user in (
            UserSpec(f"author@src-{s}.test", f"src-{s}", "analyst"),
            UserSpec(f"colleague@src-{s}.test", f"src-{s}", "viewer"),
            UserSpec(f"named@in-{s}.test", f"in-{s}", "viewer"),
            UserSpec(f"colleague@in-{s}.test", f"in-{s}", "admin"),
            # Hub operators get no extra read access: the oracle ignores the flag.
            UserSpec(f"operator@out-{s}.test", f"out-{s}", "admin", is_operator=True),
            UserSpec(f"author@anon-{s}.test", f"anon-{s}", "analyst"),
            UserSpec(f"colleague@anon-{s}.test", f"anon-{s}", "viewer"),
        ):
            world.users[user.email] = user
    in_orgs = [f"in-{_slug(kind)}" for kind in ORG_KINDS]
    named_users = [f"named@in-{_slug(kind)}.test" for kind in ORG_KINDS]
    for kind in ORG_KINDS:
        s = _slug(kind)
        world.groups[f"circle-{s}"] = GroupSpec(f"circle-{s}", frozenset([f"src-{s}", f"anon-{s}", *in_orgs]))
    # Shares no audience ever names, but links every sharer with every bystander.
    world.groups["bystanders"] = GroupSpec(
        "bystanders", frozenset(slug for slug in world.orgs if not slug.startswith("in-"))
    )

    counter = iter(range(1, 10_000))

    def item(stix_type, owner, tlp, audience, **flags) -> ItemSpec:
        n = next(counter)
        names = {"groups": (f"circle-{owner.split('-', 1)[1]}",), "orgs": tuple(in_orgs),
                 "users": tuple(named_users)}.get(audience, ())
        author = f"author@{owner}.test"
        observable = f"10.{100 + n // 100}.{100 + n % 100}.123" if stix_type == "indicator" else None
        return ItemSpec(f"qz{n:04d}qz", stix_type, owner, author, tlp, audience, names,
                        observable=observable, **flags)

    for kind in ORG_KINDS:
        owner = f"src-{_slug(kind)}"
        for stix_type in ("indicator", "incident"):
            for tlp in TLPS:
                for audience in AUDIENCE_KINDS:
                    if tlp == "red" and audience != "users":
                        continue  # rejected at share time: see the tests at the end
                    world.items.append(item(stix_type, owner, tlp, audience))
        world.items.append(item("indicator", owner, "amber", "orgs", revoked=True))
        world.items.append(item("indicator", owner, "green", "groups", expired=True))
        anon = f"anon-{_slug(kind)}"
        for tlp, audience in (("clear", "own"), ("green", "community"), ("amber", "groups"),
                              ("amber+strict", "orgs"), ("red", "users")):
            world.items.append(item("indicator", anon, tlp, audience, anonymous=True))
        world.items.append(item("incident", anon, "green", "orgs", anonymous=True))
        world.items.append(item("indicator", anon, "amber", "community", anonymous=True, revoked=True))
    plan_incidents(world, counter)
    plan_derived(world, counter)
    return world


# Incident reports filed through POST /api/v1/incidents, as (owner, filing user, tlp, audience
# request, attack type, what else is filed, summary published, law-enforcement consents as
# {org: still active}). Audience None is the default (rule 6: the country's national CERTs).
FILINGS = (
    ("in-hospital", "colleague@in-hospital.test", "amber", None, "ransomware", "actor", True,
     {"in-law-enforcement": True, "anon-law-enforcement": False}),
    ("src-hospital", "author@src-hospital.test", "green", "community", "ransomware", "indicator", True, {}),
    ("out-hospital", "operator@out-hospital.test", "amber", ("in-vendor", "in-law-enforcement", "in-national-cert"),
     "ransomware", None, True, {"src-law-enforcement": True}),
    ("out-hospital", "operator@out-hospital.test", "clear", "community", "phishing", None, False,
     {"anon-law-enforcement": True}),
    ("src-hospital", "author@src-hospital.test", "green", "community", "phishing", None, False, {}),
    ("src-vendor", "author@src-vendor.test", "amber+strict", None, "phishing", None, True, {}),
    ("src-national-cert", "author@src-national-cert.test", "amber", None, "ransomware", "indicator", False, {}),
)
FILED_MONTH = "2026-03"  # incidents_support.report()'s detection time
NOT_HELD_ID = "attack-pattern--0b5f6c3e-3c1e-4c43-9d3e-5b1c6e2d7a10"  # an end the hub never holds
FILED: dict[str, dict] = {}  # incident key -> how to file it


def plan_incidents(world: WorldSpec, counter) -> None:
    for owner, filer, tlp, audience, attack_type, extra, summary, consents in FILINGS:
        key = f"qz{next(counter):04d}qz"
        if audience is None:
            names = default_incident_audience(world, owner)
            kind, names = ("orgs", names) if names else ("own", ())
        elif audience == "community":
            kind, names = "community", ()
        else:
            kind, names = "orgs", tuple(audience)
        spec = ItemSpec(key, "incident", owner, filer, tlp, kind, names, incident=key)
        FILED[key] = {"filer": filer, "tlp": tlp, "audience": audience, "attack_type": attack_type,
                      "extra": extra, "summary": summary, "consents": consents, "parts": {}}
        parts = []
        if extra == "indicator":
            # Filed with the report: the indicator belongs to the incident (rule 6 covers it).
            parts.append(ItemSpec(f"qz{next(counter):04d}qz", "indicator", owner, filer, tlp, kind, names,
                                  incident=key))
        world.items.append(spec)
        if extra == "actor":
            actor = ItemSpec(f"qz{next(counter):04d}qz", "threat-actor", owner, filer, tlp, kind, names, incident=key)
            parts += [actor, ItemSpec(f"qz{next(counter):04d}qz", "relationship", owner, filer, tlp, kind, names,
                                      incident=key, refs=(key, actor.key))]
        for part in parts:
            FILED[key]["parts"][part.stix_type] = part.key
        world.items += parts
        world.reports.append(ReportSpec(key, FILED_MONTH, attack_type, summary))
        world.consents += [ConsentSpec(key, org, active) for org, active in consents.items()]


def plan_derived(world: WorldSpec, counter) -> None:
    """Relationships and sightings between items of different TLPs and audiences (rule 7)."""
    def base(owner, stix_type, tlp, audience, **flags):
        return next(i.key for i in world.items if (i.owner, i.stix_type, i.tlp, i.audience) ==
                    (owner, stix_type, tlp, audience) and i.incident is None
                    and all(getattr(i, f) == v for f, v in flags.items()))

    def filed(owner, stix_type):
        return next(i.key for i in world.items if i.owner == owner and i.stix_type == stix_type
                    and i.incident is not None)

    in_orgs = tuple(slug for slug in world.orgs if slug.startswith("in-"))
    for owner, stix_type, tlp, audience, refs in (
        ("src-hospital", "relationship", "green", "community",
         (base("src-hospital", "indicator", "clear", "community"), base("src-national-cert", "indicator", "amber", "orgs"))),
        ("src-national-cert", "relationship", "clear", "community",
         (base("src-national-cert", "indicator", "green", "groups"), base("src-hospital", "indicator", "red", "users"))),
        ("src-hospital", "sighting", "green", "community", (base("src-vendor", "indicator", "amber+strict", "own"),)),
        ("src-national-cert", "sighting", "amber", "orgs", (base("src-hospital", "indicator", "green", "groups"),)),
        ("src-hospital", "relationship", "green", "community",
         (base("src-hospital", "indicator", "green", "community"), NOT_HELD_ID)),
        ("src-national-cert", "relationship", "clear", "community",
         (filed("in-hospital", "incident"), base("src-national-cert", "indicator", "clear", "community"))),
        ("src-hospital", "sighting", "green", "community", (filed("src-hospital", "indicator"),)),
        ("src-hospital", "relationship", "clear", "community",
         (base("anon-hospital", "indicator", "green", "community", anonymous=True), NOT_HELD_ID)),
        ("src-vendor", "relationship", "green", "community",
         (base("src-law-enforcement", "incident", "green", "community"), base("src-vendor", "indicator", "green", "community"))),
    ):
        names = {"orgs": in_orgs}.get(audience, ())
        world.items.append(ItemSpec(f"qz{next(counter):04d}qz", stix_type, owner, f"author@{owner}.test", tlp,
                                    audience, names, refs=refs))


PLAN = plan_world()
READERS = list(PLAN.users.values())
POSITION = {item.key: index for index, item in enumerate(PLAN.items)}
# The items of the original grid (shared indicators and incident objects, one per cell).
BASE_KEYS = frozenset(i.key for i in PLAN.items if i.incident is None and not i.refs)
# Items whose text the matrix writes (description with the key and the batch word): filed
# incident objects carry the hub's own text and are left out of text searches.
TEXTED = frozenset(i.key for i in PLAN.items if i.incident is None)
INCIDENT_KEYS = [report.incident for report in PLAN.reports]


def reader_id(user: UserSpec) -> str:
    return f"{user.org}/{user.email.split('@')[0]}"


READER_IDS = [reader_id(user) for user in READERS]
OWNERS = [slug for slug in PLAN.orgs if slug.startswith(("src-", "anon-"))]
# The web search shows one page (reads.search's default limit): a batch word splits the items
# into batches that each fit on it, so the batches' results together must be the visible set.
WEB_SEARCH_LIMIT = 50
BATCHES = 6
SHARED_DOMAIN = "shared.policy-matrix.example"


# --- the world, built in the database ---------------------------------------------------------

@dataclass
class BuiltWorld:
    plan: WorldSpec
    stix_ids: dict[str, str]  # item key -> STIX id
    by_stix_id: dict[str, ItemSpec]
    added_order: list[str]  # item keys, oldest date_added first
    principals: dict[str, Principal]  # plain frozen values: safe to keep across sessions
    session_ids: dict[str, str]  # Flask-Login ids
    tokens: dict[str, str]
    identity_ids: dict[str, str]  # org slug -> Organisation.identity_id
    case_ids: dict[tuple[str, str], str]  # (incident key, law-enforcement org) -> case id
    _expected: dict[str, frozenset[str]] = field(default_factory=dict)

    def principal(self, reader: UserSpec) -> Principal:
        return self.principals[reader.email]

    def expected(self, reader: UserSpec) -> set[str]:
        if reader.email not in self._expected:
            self._expected[reader.email] = frozenset(
                self.stix_ids[item.key] for item in visible_items(self.plan, reader))
        return set(self._expected[reader.email])

    def own_org_items(self, reader: UserSpec) -> set[str]:
        return {self.stix_ids[i.key] for i in self.plan.items if i.owner == reader.org}

    def texted(self, stix_ids: set[str]) -> set[str]:
        """Of these, the items whose text the matrix wrote (what its word searches find)."""
        return {sid for sid in stix_ids if self.by_stix_id[sid].key in TEXTED}

    def forbidden_strings(self, reader: UserSpec) -> list[str]:
        """What identifies an anonymous sharer, for a reader outside that sharer's organisation."""
        found = []
        for org in self.plan.orgs.values():
            if not org.slug.startswith("anon-") or org.slug == reader.org:
                continue
            found += [org.slug, org.name, self.identity_ids[org.slug]]
            found += [user.email for user in self.plan.users_of(org.slug)]
        return found


def _stix_body(spec: ItemSpec, identity_id: str, stix_ids: dict[str, str] | None = None) -> dict:
    body = {
        "type": spec.stix_type,
        "spec_version": "2.1",
        "id": f"{spec.stix_type}--{uuid.uuid4()}",
        "created": "2026-11-01T10:00:00.000Z",
        "modified": "2026-11-01T10:00:00.000Z",
        "description": f"Policy matrix item {spec.key}, batch {batch_word(spec)}",
    }
    if not spec.anonymous:
        body["created_by_ref"] = identity_id
    if spec.stix_type == "incident":
        return {**body, "name": f"Matrix incident {spec.key}"}
    refs = [stix_ids.get(ref, ref) for ref in spec.refs] if spec.refs else []
    if spec.stix_type == "relationship":
        return {**body, "relationship_type": "related-to", "source_ref": refs[0], "target_ref": refs[1]}
    if spec.stix_type == "sighting":
        return {**body, "sighting_of_ref": refs[0], "count": 2}
    extra = {"valid_from": "2020-01-01T00:00:00.000Z", "valid_until": "2021-01-01T00:00:00.000Z"} \
        if spec.expired else {}
    indicator = factories.indicator(spec.observable, **extra)
    # Every indicator also names one shared domain: one search then crosses the observable index.
    pattern = f"{indicator['pattern']} OR [domain-name:value = '{SHARED_DOMAIN}']"
    return {**indicator, **body, "pattern": pattern, "name": f"Matrix indicator {spec.key}"}


def batch_word(spec: ItemSpec) -> str:
    return f"zb{POSITION[spec.key] % BATCHES:02d}bz" if spec.key in POSITION else "zbnonebz"


def _audience_request(spec: ItemSpec):
    if spec.audience in ("community", "own"):
        return spec.audience
    return {spec.audience: list(spec.audience_names)}


def build_world(app, plan: WorldSpec) -> BuiltWorld:
    orgs = {}
    for spec in plan.orgs.values():
        orgs[spec.slug] = factories.make_org(spec.kind, spec.country, slug=spec.slug)
        orgs[spec.slug].name = spec.name
    db.session.commit()
    # Nobody signs in with a password here: one Argon2 hash serves every user (as conftest's
    # member_of does), which saves seconds of hashing.
    password_hash = accounts.hash_password(factories.PASSWORD)
    users = {}
    for spec in plan.users.values():
        users[spec.email] = User(email=spec.email, org=orgs[spec.org], role=Role(spec.role),
                                 password_hash=password_hash, is_operator=spec.is_operator)
        db.session.add(users[spec.email])
    db.session.commit()
    for group in plan.groups.values():
        factories.make_group(group.slug, *(orgs[slug] for slug in sorted(group.orgs)))

    # Every reader subscribes in-app to everything before anything is shared (alert column).
    for user in users.values():
        alerts_support.subscribe(user)
    tokens = {email: accounts.create_token(user, "matrix") for email, user in users.items()}

    identity_ids = {slug: org.identity_id for slug, org in orgs.items()}
    stix_ids = {}
    for spec in plan.items:
        if spec.incident is not None or spec.refs:
            continue  # filed below, and shared after what they name
        body = _stix_body(spec, identity_ids[spec.owner])
        item = factories.share(users[spec.author], [body], tlp=spec.tlp,
                               audience=_audience_request(spec), anonymous=spec.anonymous)
        stix_ids[spec.key] = item.stix_id
    for spec in plan.items:
        if spec.revoked:
            revoke(Principal.of(users[spec.author]), stix_ids[spec.key])
    case_ids = _file_incidents(app, plan, tokens, stix_ids)
    for spec in plan.items:
        if spec.refs and spec.incident is None:
            body = _stix_body(spec, identity_ids[spec.owner], stix_ids)
            item = factories.share(users[spec.author], [body], tlp=spec.tlp,
                                   audience=_audience_request(spec), anonymous=spec.anonymous)
            stix_ids[spec.key] = item.stix_id
    assert set(stix_ids) == {spec.key for spec in plan.items}
    # The order the hub lists in (date_added, then row id): revoking adds a version, which moves
    # the item to the end; the objects of one filing are stored together.
    key_of = {sid: key for key, sid in stix_ids.items()}
    extra = db.session.scalars(select(SharedItem).where(SharedItem.stix_id.not_in(list(key_of)))).all()
    assert not extra, [item.stix_id for item in extra]
    added_order = [key_of[sid] for sid in db.session.scalars(
        select(SharedItem.stix_id).order_by(SharedItem.last_added_us, SharedItem.id))]
    alerts_support.run_fan_out()
    session_ids = {email: start_session(user) for email, user in users.items()}
    db.session.commit()
    return BuiltWorld(
        plan=plan,
        stix_ids=stix_ids,
        by_stix_id={stix_ids[spec.key]: spec for spec in plan.items},
        added_order=added_order,
        principals={email: Principal.of(user) for email, user in users.items()},
        session_ids=session_ids,
        tokens=tokens,
        identity_ids=identity_ids,
        case_ids=case_ids,
    )


def _file_incidents(app, plan: WorldSpec, tokens: dict[str, str], stix_ids: dict[str, str]) -> dict:
    """Files every planned report through POST /api/v1/incidents, publishes the planned
    summaries and grants (and revokes) the planned consents; returns {(incident key, org): case id}."""
    client = app.test_client()

    def call(method, email, path, body=None):
        with app.app_context():  # its own `g`, as each request under a real server
            response = client.open("/api/v1" + path, method=method, json=body,
                                   headers={"Authorization": f"Bearer {tokens[email]}"})
            response.get_data()
        assert response.status_code in (200, 201, 204), (method, path, response.get_data(as_text=True))
        return response

    case_ids = {}
    for key, filing in FILED.items():
        spec = plan.item(key)
        body = incidents_support.report(
            title=f"Outage report {key}", tlp=filing["tlp"], attack_type=filing["attack_type"],
            threat_actor=f"Crew {key}" if filing["extra"] == "actor" else None,
            narrative="Workstations were encrypted first; the EHR followed an hour later.")
        if filing["audience"] is not None:
            body["audience"] = filing["audience"] if filing["audience"] == "community" else {"orgs": list(filing["audience"])}
        if filing["extra"] == "indicator":
            n = POSITION[key]
            body["new_indicators"] = [{"type": "ipv4-addr", "value": f"198.18.{n // 250}.{n % 250 + 1}"}]
        incident_id = call("POST", filing["filer"], "/incidents", body).json["id"]
        stix_ids[key] = incident_id
        parts = db.session.execute(
            select(SharedItem.stix_type, SharedItem.stix_id)
            .join(IncidentItem, IncidentItem.item_id == SharedItem.id)
            .join(Incident, Incident.id == IncidentItem.incident_id)
            .where(Incident.stix_id == incident_id)).all()
        assert sorted(t for t, _ in parts) == sorted(["incident", *filing["parts"]]), parts
        for stix_type, stix_id in parts:
            if stix_type != "incident":
                stix_ids[filing["parts"][stix_type]] = stix_id
        if filing["summary"]:
            call("POST", filing["filer"], f"/incidents/{incident_id}/summary", {})
        for org in filing["consents"]:
            case_ids[(key, org)] = call("POST", filing["filer"], f"/incidents/{incident_id}/consents", {"org": org}).json["case"]
        for org, active in filing["consents"].items():
            if not active:
                call("DELETE", filing["filer"], f"/incidents/{incident_id}/consents/{org}")
        assert spec.owner == plan.users[filing["filer"]].org
    return case_ids


def _empty_all_tables() -> None:
    tables = [table.name for table in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        db.session.execute(text("PRAGMA foreign_keys=OFF"))
        for table in tables:
            db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean_database(app):
    """Replaces conftest's per-test cleanup: the module's world outlives each test."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        try:
            built = build_world(app, PLAN)
        except BaseException:
            db.session.rollback()
            _empty_all_tables()  # later modules expect empty tables
            raise
        finally:
            db.session.remove()
    yield built
    with app.app_context():
        db.session.remove()
        _empty_all_tables()
        db.session.remove()


# --- helpers ----------------------------------------------------------------------------------

class Visitor:
    """A test client acting as one user, on the web (session) or the API (bearer token).

    Each request runs in its own application context: the tests hold one open, and Flask would
    otherwise reuse it, and with it Flask-Login's cached user, across different users' requests.
    """

    def __init__(self, app, world: "BuiltWorld", reader: UserSpec):
        self.app = app
        self.reader = reader
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {world.tokens[reader.email]}"}
        with self.client.session_transaction() as session:
            session["_user_id"] = world.session_ids[reader.email]
            session["_fresh"] = True

    def get(self, url: str):
        with self.app.app_context():
            return self.client.get(url, headers=self.headers if url.startswith("/api/") else None)

    def post(self, url: str, json):
        with self.app.app_context():
            return self.client.post(url, json=json, headers=self.headers)


def _describe(world: "BuiltWorld", stix_ids) -> list[str]:
    return sorted(world.by_stix_id[sid].describe() if sid in world.by_stix_id else sid for sid in stix_ids)


def assert_exactly(world: "BuiltWorld", reader: UserSpec, path: str, shown, expected: set[str]) -> None:
    shown = list(shown)
    duplicates = {sid for sid in shown if shown.count(sid) > 1}
    leaked, missing = set(shown) - expected, expected - set(shown)
    assert not (leaked or missing or duplicates), (
        f"{path} as {reader_id(reader)} ({PLAN.orgs[reader.org].kind}): "
        f"leaked {_describe(world, leaked)}; missing {_describe(world, missing)}; "
        f"shown twice {_describe(world, duplicates)}"
    )


def assert_no_source(world: "BuiltWorld", reader: UserSpec, path: str, body: str) -> None:
    """Nothing that names an anonymous sharer appears in a response to an outsider."""
    found = [s for s in world.forbidden_strings(reader) if s.lower() in body.lower()]
    assert not found, f"{path} as {reader_id(reader)} names an anonymous source: {found}"


def _service_pages(principal, filters=None, *, newest_first=True, cursor=None, limit=SERVICE_PAGE):
    pages = []
    while True:
        page = reads.list_items(principal, filters, limit=limit, cursor=cursor, newest_first=newest_first)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
        assert len(pages) < 500, "list_items keeps handing out cursors"


def _service_ids(principal, filters=None, **kwargs) -> list[str]:
    return [item.stix_id for page in _service_pages(principal, filters, **kwargs) for item in page.items]


def _api_pages(visitor: Visitor, query: str = "", cursor: str | None = None, limit: int = API_PAGE):
    """Every page of GET /api/v1/objects, following `next`: [(response, [stix ids])]."""
    pages = []
    while True:
        url = f"/api/v1/objects?limit={limit}{query}" + (f"&cursor={quote(cursor)}" if cursor else "")
        response = visitor.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        ids = [obj["id"] for obj in response.json["objects"]]
        assert len(ids) <= limit
        pages.append((response, ids))
        cursor = response.json["next"]
        if cursor is None:
            return pages
        assert len(pages) < 500, "the API keeps handing out cursors"


_ITEM_HREF = re.compile(r"^(?:https?://[^/]+)?/items/([a-z0-9][a-z0-9-]*--[0-9a-f-]{36})$")


class _Page(HTMLParser):
    """The links and visible text of one HTML page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict] = []
        self.chunks: list[str] = []
        self._open: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("a", "link"):
            anchor = {"href": attrs.get("href") or "", "rel": (attrs.get("rel") or "").lower(), "text": ""}
            self.anchors.append(anchor)
            self._open = anchor if tag == "a" else None

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        self.chunks.append(data)
        if self._open is not None:
            self._open["text"] += data

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.chunks))

    def item_ids(self) -> list[str]:
        """Each linked item once, in page order."""
        found = []
        for anchor in self.anchors:
            match = _ITEM_HREF.match(anchor["href"])
            if match and match.group(1) not in found:
                found.append(match.group(1))
        return found

    def next_cursor(self) -> str | None:
        for anchor in self.anchors:
            cursor = parse_qs(urlsplit(anchor["href"]).query).get("cursor")
            if cursor and ("next" in anchor["rel"] or "next" in anchor["text"].lower()):
                return cursor[0]
        return None

    def total(self) -> int | None:
        match = re.search(r"(\d[\d,]*)\s*items?\b", self.text)
        return int(match.group(1).replace(",", "")) if match else None


def _web_pages(visitor: Visitor, query: str = "", cursor: str | None = None, supporting: bool = True):
    """Every page of /items, following the next-page links: [(body, _Page)]. Expired items too
    (status=all): the list's default leaves them out, and the matrix holds some; supporting
    objects too (supporting=1): by default relationships, sightings and an incident's threat
    actor appear on their parent's page instead of rows of their own, and the matrix holds some."""
    pages = []
    while True:
        url = "/items?status=all&" + ("supporting=1&" if supporting else "") + query + (f"&cursor={quote(cursor)}" if cursor else "")
        response = visitor.get(url)
        assert response.status_code == 200, (url, response.status_code)
        body = response.get_data(as_text=True)
        pages.append((body, _Page(body)))
        cursor = pages[-1][1].next_cursor()
        if cursor is None:
            return pages
        assert len(pages) < 200, "/items keeps linking a next page"


# --- every reader, every list path: the exact visible set -------------------------------------

@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_service_lists_counts_and_searches_show_exactly_the_readable_items(world, reader):
    principal = world.principal(reader)
    expected = world.expected(reader)
    for newest_first, limit in ((True, SERVICE_PAGE), (False, 50)):
        shown = _service_ids(principal, newest_first=newest_first, limit=limit)
        assert_exactly(world, reader, f"reads.list_items(newest_first={newest_first})", shown, expected)
    assert reads.count_items(principal) == len(expected), f"reads.count_items as {reader_id(reader)}"
    by_text = [item.stix_id for item, _ in reads.search(principal, "Policy Matrix Item", limit=500)]
    assert_exactly(world, reader, "reads.search(words)", by_text, world.texted(expected))
    indicators = {sid for sid in world.texted(expected) if sid.startswith("indicator--")}
    # A differently spelled observable (case, trailing dot) still finds every indicator by value.
    found = [item for item, _ in reads.search(principal, SHARED_DOMAIN.upper() + ".", limit=500)]
    assert_exactly(world, reader, "reads.search(observable)", [item.stix_id for item in found], indicators)
    for item in found:
        spec = world.by_stix_id[item.stix_id]
        meta = reads.hub_metadata(principal, item, with_versions=spec.anonymous)
        assert meta["owner"] == (spec.owner if sees_source(reader, spec) else None), spec.describe()
        if not sees_source(reader, spec):
            shown = json.dumps([reads.stix_object(item), meta])
            assert_no_source(world, reader, f"reads.hub_metadata of {spec.describe()}", shown)


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_api_lists_and_searches_show_exactly_the_readable_items(app, world, reader):
    visitor = Visitor(app, world, reader)
    expected = world.expected(reader)
    shown = []
    for response, ids in _api_pages(visitor):
        shown += ids
        assert_no_source(world, reader, "GET /api/v1/objects", response.get_data(as_text=True))
    assert_exactly(world, reader, "GET /api/v1/objects", shown, expected)
    texted = world.texted(expected)
    for query, wanted in (("policy matrix item", texted),
                          (SHARED_DOMAIN, {sid for sid in texted if sid.startswith("indicator--")})):
        response = visitor.get(f"/api/v1/search?limit=500&q={quote(query)}")
        assert response.status_code == 200
        found = [result["id"] for result in response.json["results"]]
        assert_exactly(world, reader, f"GET /api/v1/search?q={query}", found, wanted)
        assert_no_source(world, reader, f"GET /api/v1/search?q={query}", response.get_data(as_text=True))
        for result in response.json["results"]:
            spec = world.by_stix_id[result["id"]]
            assert result["owner"] == (spec.owner if sees_source(reader, spec) else None), spec.describe()


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_web_lists_and_searches_show_exactly_the_readable_items_and_their_total(app, world, reader):
    visitor = Visitor(app, world, reader)
    expected = world.expected(reader)
    shown = []
    for body, page in _web_pages(visitor):
        shown += page.item_ids()
        assert page.total() == len(expected), f"'<N> items' on /items as {reader_id(reader)}"
        assert_no_source(world, reader, "GET /items", body)
    assert_exactly(world, reader, "GET /items", shown, expected)
    found = []
    for batch in range(BATCHES):
        word = f"zb{batch:02d}bz"
        response = visitor.get(f"/search?q={word}&supporting=1")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        found += _Page(body).item_ids()
        assert_no_source(world, reader, f"GET /search?q={word}", body)
    assert_exactly(world, reader, "GET /search?q=<batch word>", found, world.texted(expected))


# What members share, in the world: the matrix's incidents' threat actors are tied to them by a
# relationship, and relationships and sightings are supporting objects (reads.shared_not_supporting).
SHARED_TYPES_IN_WORLD = ("indicator", "incident")


@pytest.mark.parametrize("reader", READERS[::3], ids=READER_IDS[::3])
def test_the_default_web_list_shows_exactly_the_readable_shared_items_and_their_total(app, world, reader):
    """Hiding supporting objects changes neither who sees what nor the totals' honesty."""
    visitor = Visitor(app, world, reader)
    expected = {sid for sid in world.expected(reader) if sid.split("--")[0] in SHARED_TYPES_IN_WORLD}
    shown = []
    for body, page in _web_pages(visitor, supporting=False):
        shown += page.item_ids()
        assert page.total() == len(expected), f"'<N> items' on the default /items as {reader_id(reader)}"
        assert_no_source(world, reader, "GET /items (default)", body)
    assert_exactly(world, reader, "GET /items (default)", shown, expected)


# --- every item, every per-item path: readable answers, unreadable is absent ------------------

def _nearness(reader: UserSpec, item: ItemSpec) -> int:
    """How close a reader stands to an item: its owner's colleague, a named party's colleague."""
    if reader.org == item.owner:
        return 2
    named_orgs = reached_orgs(PLAN, item) | {PLAN.users[email].org for email in item.audience_names
                                             if email in PLAN.users}
    return 1 if reader.org in named_orgs else 0


def probes(item: ItemSpec) -> list[UserSpec]:
    """Who asks for `item` on the per-item paths: one reader who may read it (an outsider when it
    is anonymous) and, when there is one, a reader who may not, chosen among those nearest to it
    (the RED author's colleague, the named user's colleague, the law-enforcement organisation
    named in an incident's audience...). The choice rotates so that every reader kind asks."""
    index = POSITION[item.key]
    readers = [r for r in READERS if may_read(PLAN, r, item)]
    outsiders = [r for r in readers if not sees_source(r, item)]
    chosen = [(outsiders or readers)[index % len(outsiders or readers)]]
    refused = [r for r in READERS if not may_read(PLAN, r, item)]
    if refused:
        nearest = max(_nearness(r, item) for r in refused)
        pool = [r for r in refused if _nearness(r, item) == nearest]
        chosen.append(pool[index % len(pool)])
    return chosen


def http_paths(item: ItemSpec) -> tuple[str, ...]:
    """Which per-item HTTP paths ask for the item. Anonymous, revoked and expired items go through
    both; otherwise the indicator of each sharer x TLP x audience cell goes through one and the
    incident through the other (they sit an odd distance apart in PLAN.items)."""
    if item.anonymous or item.revoked or item.expired or item.key not in BASE_KEYS:
        return ("api", "web")
    return ("api",) if POSITION[item.key] % 2 == 0 else ("web",)


def probe_pairs(owner: str, path: str | None = None) -> list[tuple[UserSpec, ItemSpec]]:
    return [(reader, item) for item in PLAN.items
            if item.owner == owner and (path is None or path in http_paths(item))
            for reader in probes(item)]


def _asked(reader: UserSpec, item: ItemSpec, path: str) -> str:
    verdict = "may read" if may_read(PLAN, reader, item) else "may not read"
    return f"{path}: {reader_id(reader)} ({PLAN.orgs[reader.org].kind}) {verdict} {item.describe()}"


_CSRF_TOKEN = re.compile(r'name="csrf_token" value="[^"]*"')


def _as_missing(body: str, stix_id: str) -> str:
    """A 404 body with the asked-for id (and the page's per-request CSRF token) taken out."""
    return _CSRF_TOKEN.sub('name="csrf_token"', body.replace(stix_id, "<id>"))


class _MissingAnswers(dict):
    """Per reader: the answer to a STIX id that never existed, asked once."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url

    def of(self, visitor: Visitor) -> str:
        if visitor.reader.email not in self:
            response = visitor.get(self.url.format(MISSING_ID))
            assert response.status_code == 404
            self[visitor.reader.email] = _as_missing(response.get_data(as_text=True), MISSING_ID)
        return self[visitor.reader.email]


@pytest.mark.parametrize("owner", OWNERS)
def test_service_get_item_returns_readable_items_and_not_found_for_the_rest(world, owner):
    problems = []
    for reader, spec in probe_pairs(owner):
        principal = world.principal(reader)
        try:
            item = reads.get_item(principal, world.stix_ids[spec.key])
        except NotFound:
            if may_read(PLAN, reader, spec):
                problems.append(_asked(reader, spec, "reads.get_item raised NotFound"))
            continue
        if not may_read(PLAN, reader, spec):
            problems.append(_asked(reader, spec, "reads.get_item returned it"))
            continue
        meta = reads.hub_metadata(principal, item, with_versions=True)
        wanted = (spec.owner if sees_source(reader, spec) else None, spec.tlp, spec.revoked, spec.expired)
        if (meta["owner"], meta["tlp"], meta["revoked"], meta["expired"]) != wanted:
            problems.append(_asked(reader, spec, f"reads.hub_metadata says {meta}"))
        if not sees_source(reader, spec):
            shown = json.dumps([reads.stix_object(item), meta])
            assert_no_source(world, reader, f"reads.get_item({spec.describe()})", shown)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("owner", OWNERS)
def test_service_search_by_value_or_word_finds_an_item_only_for_its_readers(world, owner):
    problems = []
    for reader, spec in probe_pairs(owner):
        principal = world.principal(reader)
        expected = [world.stix_ids[spec.key]] if may_read(PLAN, reader, spec) else []
        if spec.key not in TEXTED:
            continue  # the hub wrote its text: searched for by the incident columns
        for query in filter(None, (spec.observable, spec.key.upper())):
            found = [item.stix_id for item, _matched in reads.search(principal, query)]
            if found != expected:
                problems.append(_asked(reader, spec, f"reads.search({query!r}) found {_describe(world, found)}"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("owner", OWNERS)
def test_api_get_answers_unreadable_items_exactly_like_missing_ones(app, world, owner):
    problems, missing = [], _MissingAnswers("/api/v1/objects/{}")
    for reader, spec in probe_pairs(owner, "api"):
        visitor = Visitor(app, world, reader)
        stix_id = world.stix_ids[spec.key]
        response = visitor.get(f"/api/v1/objects/{stix_id}")
        body = response.get_data(as_text=True)
        if not may_read(PLAN, reader, spec):
            if (response.status_code, _as_missing(body, stix_id)) != (404, missing.of(visitor)):
                problems.append(_asked(reader, spec, f"GET /api/v1/objects/<id> answered {response.status_code}"))
            continue
        if response.status_code != 200 or response.json["object"]["id"] != stix_id:
            problems.append(_asked(reader, spec, f"GET /api/v1/objects/<id> answered {response.status_code}"))
            continue
        hub_meta = response.json["hub"]
        wanted = (spec.owner if sees_source(reader, spec) else None, spec.tlp, spec.revoked, spec.expired)
        if (hub_meta["owner"], hub_meta["tlp"], hub_meta["revoked"], hub_meta["expired"]) != wanted:
            problems.append(_asked(reader, spec, f"GET /api/v1/objects/<id> says hub={hub_meta}"))
        if not sees_source(reader, spec):
            assert "created_by_ref" not in response.json["object"]
            assert_no_source(world, reader, f"GET /api/v1/objects/<{spec.describe()}>", body)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("owner", OWNERS)
def test_web_detail_answers_unreadable_items_exactly_like_missing_ones(app, world, owner):
    problems, missing = [], _MissingAnswers("/items/{}")
    for reader, spec in probe_pairs(owner, "web"):
        visitor = Visitor(app, world, reader)
        stix_id = world.stix_ids[spec.key]
        response = visitor.get(f"/items/{stix_id}")
        body = response.get_data(as_text=True)
        if not may_read(PLAN, reader, spec):
            if (response.status_code, _as_missing(body, stix_id)) != (404, missing.of(visitor)):
                problems.append(_asked(reader, spec, f"GET /items/<id> answered {response.status_code}"))
            continue
        if response.status_code != 200 or (spec.key if spec.key in TEXTED else stix_id) not in body:
            problems.append(_asked(reader, spec, f"GET /items/<id> answered {response.status_code}"))
            continue
        shown = _Page(body).text.lower()
        for flag in ("revoked", "expired"):
            if getattr(spec, flag) and flag not in shown:
                problems.append(_asked(reader, spec, f"GET /items/<id> does not say {flag}"))
        if not sees_source(reader, spec):
            if "anonymous" not in shown:
                problems.append(_asked(reader, spec, "GET /items/<id> does not say anonymous"))
            assert_no_source(world, reader, f"GET /items/<{spec.describe()}>", body)
        elif spec.owner not in body and PLAN.orgs[spec.owner].name not in body:
            problems.append(_asked(reader, spec, "GET /items/<id> does not name the owner"))
    assert not problems, "\n".join(problems)


def test_per_item_probes_ask_for_every_item_from_both_sides_on_every_path():
    """Guards the probe choice: every item is asked for by a reader who may read it and, if some
    reader may not, by one who may not; every sharer x TLP x audience cell is asked for on both
    HTTP paths; readers of every kind ask, with both outcomes, on both."""
    asking = set()
    for item in PLAN.items:
        chosen = probes(item)
        assert may_read(PLAN, chosen[0], item), item.describe()
        refused = any(not may_read(PLAN, r, item) for r in READERS)
        assert len(chosen) == (2 if refused else 1) and not (refused and may_read(PLAN, chosen[1], item))
        asking |= {(path, PLAN.orgs[r.org].kind, may_read(PLAN, r, item))
                   for path in http_paths(item) for r in chosen}
    assert asking == {(path, kind, outcome) for path in ("api", "web") for kind in ORG_KINDS
                      for outcome in (True, False)}
    for path in ("api", "web"):
        cells = {(i.owner, i.tlp, i.audience) for i in PLAN.items if path in http_paths(i)}
        assert cells == {(i.owner, i.tlp, i.audience) for i in PLAN.items}, path


def test_every_search_batch_fits_on_one_web_search_page():
    for reader in READERS:
        for batch in range(BATCHES):
            visible = [i for i in visible_items(PLAN, reader) if batch_word(i) == f"zb{batch:02d}bz"]
            assert len(visible) < WEB_SEARCH_LIMIT, reader_id(reader)


# --- cursors, filters, revocation, operators --------------------------------------------------

def _cursor_donor(world: "BuiltWorld", reader: UserSpec) -> UserSpec:
    """Another organisation's user who reads the most that `reader` may not."""
    mine = world.expected(reader)
    others = [user for user in READERS if user.org != reader.org]
    return max(others, key=lambda user: (len(world.expected(user) - mine), user.email))


def _after(world: "BuiltWorld", order: list[str], stix_id: str, visible: set[str]) -> list[str]:
    position = order.index(world.by_stix_id[stix_id].key)
    return [world.stix_ids[key] for key in order[position + 1:] if world.stix_ids[key] in visible]


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_a_cursor_replayed_by_another_user_yields_only_that_users_items(app, world, reader):
    donor = _cursor_donor(world, reader)
    mine = world.expected(reader)
    newest_first = list(reversed(world.added_order))
    donor_pages = _service_pages(world.principal(donor), limit=25)
    # The cursor of a page that ends on an item the reader may not read, where there is one.
    page = min(donor_pages[:-1], key=lambda page: page.items[-1].stix_id in mine)
    shown = _service_ids(world.principal(reader), cursor=page.next_cursor, limit=50)
    assert shown == _after(world, newest_first, page.items[-1].stix_id, mine), (
        f"reads.list_items with {reader_id(donor)}'s cursor as {reader_id(reader)}: "
        f"leaked {_describe(world, set(shown) - mine)}")
    # The API lists oldest first.
    first = Visitor(app, world, donor).get(f"/api/v1/objects?limit={API_PAGE}").json
    replayed = _api_pages(Visitor(app, world, reader), cursor=first["next"], limit=100)
    shown = [sid for _r, ids in replayed for sid in ids]
    assert shown == _after(world, world.added_order, first["objects"][-1]["id"], mine), (
        f"GET /api/v1/objects with {reader_id(donor)}'s cursor as {reader_id(reader)}: "
        f"leaked {_describe(world, set(shown) - mine)}")
    if reader.email.startswith("named@"):  # the web, for a sample of readers
        donor_page = _web_pages(Visitor(app, world, donor))[0][1]
        pages = _web_pages(Visitor(app, world, reader), cursor=donor_page.next_cursor())
        shown = [sid for _body, page in pages for sid in page.item_ids()]
        assert shown == _after(world, newest_first, donor_page.item_ids()[-1], mine), (
            f"GET /items with {reader_id(donor)}'s cursor as {reader_id(reader)}: "
            f"leaked {_describe(world, set(shown) - mine)}")
        assert {page.total() for _body, page in pages} == {len(mine)}


@pytest.mark.parametrize("owner", OWNERS)
def test_filtering_by_owner_never_reveals_an_anonymous_source(app, world, owner):
    """Anonymous items match an owner filter only for the owner organisation itself."""
    for reader in READERS:
        expected = {world.stix_ids[item.key] for item in visible_items(PLAN, reader)
                    if item.owner == owner and sees_source(reader, item)}
        principal = world.principal(reader)
        filters = reads.ItemFilters(owner=owner)
        assert_exactly(world, reader, f"reads.list_items(owner={owner})", _service_ids(principal, filters), expected)
        assert reads.count_items(principal, filters) == len(expected)
        # Over HTTP: the owner's own users and, for anonymous sources, the named audience users.
        if reader.org == owner or (owner.startswith("anon-") and reader.email.startswith("named@")):
            visitor = Visitor(app, world, reader)
            api_shown = [sid for _r, ids in _api_pages(visitor, f"&owner={owner}") for sid in ids]
            assert_exactly(world, reader, f"GET /api/v1/objects?owner={owner}", api_shown, expected)
            pages = _web_pages(visitor, f"owner={owner}")
            assert_exactly(world, reader, f"GET /items?owner={owner}",
                           [sid for _body, page in pages for sid in page.item_ids()], expected)
            for body, page in pages:
                assert page.total() == len(expected), f"GET /items?owner={owner} as {reader_id(reader)}"
                # The page echoes the filter the reader typed; nothing else may name the source.
                assert_no_source(world, reader, f"GET /items?owner={owner}", body.replace(owner, ""))


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_revoked_and_expired_items_stay_readable_and_marked(app, world, reader):
    principal = world.principal(reader)
    visitor = Visitor(app, world, reader)
    readable = visible_items(PLAN, reader)
    by_status = {
        "revoked": [i for i in readable if i.revoked],
        "expired": [i for i in readable if i.expired],
        "active": [i for i in readable if not (i.revoked or i.expired)],
    }
    for status, specs in by_status.items():
        expected = {world.stix_ids[spec.key] for spec in specs}
        filters = reads.ItemFilters(status=status)
        shown = _service_ids(principal, filters, limit=50)
        assert_exactly(world, reader, f"reads.list_items(status={status})", shown, expected)
        assert reads.count_items(principal, filters) == len(expected)
        if status == "active":
            continue  # the API's unfiltered list is checked above; this one adds nothing
        api_shown = [sid for _r, ids in _api_pages(visitor, f"&status={status}") for sid in ids]
        assert_exactly(world, reader, f"GET /api/v1/objects?status={status}", api_shown, expected)
        for spec in specs[:1]:
            stix_id = world.stix_ids[spec.key]
            hub_meta = visitor.get(f"/api/v1/objects/{stix_id}").json["hub"]
            assert hub_meta[status] is True, f"GET /api/v1/objects/<{spec.describe()}> as {reader_id(reader)}"
    # The detail pages' marks are checked with the per-item probes (revoked and expired items
    # go through both HTTP paths there).


def test_hub_operators_see_exactly_what_their_organisation_may_see(world):
    operators = [user for user in READERS if user.is_operator]
    assert {PLAN.orgs[user.org].kind for user in operators} == set(ORG_KINDS)
    for operator in operators:
        principal = world.principal(operator)
        assert principal.is_operator
        shown = _service_ids(principal)
        assert_exactly(world, operator, "reads.list_items as a hub operator", shown, world.expected(operator))
        assert len(shown) < len(PLAN.items) / 2


def test_the_matrix_gives_every_cell_readers_on_both_sides():
    """Guards the world: for each sharer kind, TLP and audience there are readers who see the
    item and readers who do not, and readers of every kind."""
    for kind in ORG_KINDS:
        for tlp in TLPS:
            for audience in AUDIENCE_KINDS if tlp != "red" else ("users",):
                cell = [i for i in PLAN.items if i.owner == f"src-{_slug(kind)}" and i.tlp == tlp
                        and i.audience == audience and not (i.revoked or i.expired) and i.key in BASE_KEYS]
                assert sorted(i.stix_type for i in cell) == ["incident", "indicator"]
                outcomes = {may_read(PLAN, reader, item) for reader in READERS for item in cell}
                assert outcomes == {True, False}, cell[0].describe()
    assert {PLAN.orgs[user.org].kind for user in READERS} == set(ORG_KINDS)
    for flag in ("revoked", "expired", "anonymous"):
        flagged = [i for i in PLAN.items if getattr(i, flag)]
        outcomes = {may_read(PLAN, reader, item) for reader in READERS for item in flagged}
        assert outcomes == {True, False}, flag


# --- more columns: TAXII, alert fan-out, incident pages and cases, dashboard and summaries ----

class TaxiiVisitor:
    """TAXII 2.1 as one user: HTTP Basic with the user's e-mail and API token."""

    MEDIA_TYPE = "application/taxii+json;version=2.1"

    def __init__(self, app, world: "BuiltWorld", reader: UserSpec):
        self.app = app
        self.reader = reader
        self.client = app.test_client()
        basic = base64.b64encode(f"{reader.email}:{world.tokens[reader.email]}".encode()).decode()
        self.headers = {"Authorization": f"Basic {basic}", "Accept": self.MEDIA_TYPE}

    def get(self, path: str):
        with self.app.app_context():
            return self.client.get("/taxii2" + path, headers=self.headers)

    def objects_path(self, alias: str = "everything") -> str:
        response = self.get("/api/collections/")
        assert response.status_code == 200, response.get_data(as_text=True)
        [collection] = [c for c in response.json["collections"] if c["alias"] == alias]
        return f"/api/collections/{collection['id']}/objects/"


def _taxii_pages(visitor: TaxiiVisitor, path: str, limit: int = 100):
    pages, token = [], None
    while True:
        response = visitor.get(f"{path}?limit={limit}" + (f"&next={quote(token)}" if token else ""))
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        pages.append(response)
        if not response.json.get("more"):
            return pages
        token = response.json["next"]
        assert len(pages) < 100, "TAXII keeps saying more"


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_taxii_everything_serves_exactly_the_readable_objects(app, world, reader):
    visitor = TaxiiVisitor(app, world, reader)
    shown = []
    for response in _taxii_pages(visitor, visitor.objects_path()):
        shown += [obj["id"] for obj in response.json.get("objects", [])]
        assert_no_source(world, reader, "TAXII GET everything/objects", response.get_data(as_text=True))
    assert_exactly(world, reader, "TAXII GET collections/everything/objects", shown, world.expected(reader))


@pytest.mark.parametrize("owner", OWNERS)
def test_taxii_get_object_answers_unreadable_items_exactly_like_missing_ones(app, world, owner):
    problems, missing, paths = [], {}, {}
    # The items the REST get asks for: every sharer x TLP x audience cell, and every anonymous,
    # revoked, expired, filed or derived item, from both sides.
    for reader, spec in probe_pairs(owner, "api"):
        visitor = TaxiiVisitor(app, world, reader)
        if reader.email not in paths:
            paths[reader.email] = visitor.objects_path()
            answer = visitor.get(f"{paths[reader.email]}{MISSING_ID}/")
            missing[reader.email] = (answer.status_code, answer.get_data(as_text=True).replace(MISSING_ID, "<id>"))
        stix_id = world.stix_ids[spec.key]
        response = visitor.get(f"{paths[reader.email]}{stix_id}/")
        body = response.get_data(as_text=True)
        if not may_read(PLAN, reader, spec):
            if (response.status_code, body.replace(stix_id, "<id>")) != missing[reader.email]:
                problems.append(_asked(reader, spec, f"TAXII GET objects/<id>/ answered {response.status_code}"))
            continue
        if response.status_code != 200 or [o["id"] for o in response.json.get("objects", [])] != [stix_id]:
            problems.append(_asked(reader, spec, f"TAXII GET objects/<id>/ answered {response.status_code}"))
            continue
        if not sees_source(reader, spec):
            assert_no_source(world, reader, f"TAXII GET objects/<{spec.describe()}>/", body)
    assert {status for status, _body in missing.values()} <= {404}
    assert not problems, "\n".join(problems)


def _api_all(visitor: Visitor, path: str, key: str) -> list[dict]:
    found, cursor = [], None
    while True:
        response = visitor.get(f"/api/v1/{path}?limit=200" + (f"&cursor={quote(cursor)}" if cursor else ""))
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        found += response.json[key]
        cursor = response.json.get("next")
        if not cursor:
            return found


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_alert_fan_out_tells_each_subscriber_of_exactly_what_it_may_read(world, app, reader):
    """Every reader subscribed in-app to everything before anything was shared; the fan-out ran
    once the world was built. What its bell lists, and every notification the fan-out wrote for
    it, names only items it may read, and it hears (one alert per sharing act) of every item it
    may read that others shared.
    (Case notifications ring named people while they may read the incident; once consent is
    revoked the bell stops listing them: the bell is checked, their rows are history.)"""
    expected = world.expected(reader)
    told = {n["object_id"] for n in _api_all(Visitor(app, world, reader), "notifications", "notifications")}
    written = set(db.session.scalars(
        select(SharedItem.stix_id).join(Notification, Notification.item_id == SharedItem.id)
        .join(User, User.id == Notification.user_id)
        .where(User.email == reader.email, Notification.event.not_like("case%"))))
    # The bell lists one alert per sharing act (an incident filing names the incident, "and N
    # related objects"); the fan-out records every object of the act it told the reader of.
    assert_exactly(world, reader, "notifications the fan-out wrote", written,
                   expected - world.own_org_items(reader) | (written & world.own_org_items(reader)))
    leaked = (written | told) - expected
    assert not leaked, f"fan-out notified {reader_id(reader)} of {_describe(world, leaked)}"


def _incident_expected(world: "BuiltWorld", reader: UserSpec) -> set[str]:
    return {world.stix_ids[key] for key in INCIDENT_KEYS if may_read(PLAN, reader, PLAN.item(key))}


_INCIDENT_HREF = re.compile(r"^(?:https?://[^/]+)?/incidents/(incident--[0-9a-f-]{36})$")
MISSING_INCIDENT = "incident--00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_incident_pages_and_cases_show_exactly_the_readable_incidents(app, world, reader):
    expected = _incident_expected(world, reader)
    visitor = Visitor(app, world, reader)
    listed = [i["id"] for i in _api_all(visitor, "incidents", "incidents")]
    assert_exactly(world, reader, "GET /api/v1/incidents", listed, expected)
    page = visitor.get("/incidents")
    assert page.status_code == 200
    linked = {m.group(1) for a in _Page(page.get_data(as_text=True)).anchors
              if (m := _INCIDENT_HREF.match(a["href"]))}
    assert_exactly(world, reader, "GET /incidents (web)", linked, expected)
    # Every incident on the REST path; on the web, the incidents' probes (see below).
    problems = _incident_details(world, visitor, "/api/v1/incidents/", INCIDENT_KEYS)
    # Cases: the incident's owner organisation and the consented unit while consent lasts.
    cases = {world.case_ids[(c.incident, c.org)] for c in visible_cases(PLAN, reader)}
    queue = visitor.get("/api/v1/cases")
    if PLAN.kind_of(reader) != "law_enforcement":
        # The case queue is law enforcement's; the owner follows its cases from the incident.
        if queue.status_code != 403:
            problems.append(f"GET /api/v1/cases as {reader_id(reader)} answered {queue.status_code}")
    elif sorted(c["id"] for c in queue.json["cases"]) != sorted(cases):
        problems.append(f"GET /api/v1/cases as {reader_id(reader)}: shows {queue.json}, oracle {sorted(cases)}")
    for (key, org), case_id in world.case_ids.items():
        status = visitor.get(f"/api/v1/cases/{case_id}").status_code
        if status != (200 if case_id in cases else 404):
            problems.append(f"GET /api/v1/cases/<{key} with {org}> as {reader_id(reader)} answered {status}")
    assert not problems, "\n".join(problems)


def _incident_details(world: "BuiltWorld", visitor: Visitor, prefix: str, keys) -> list[str]:
    """GET <prefix><id> of each incident: readable answers it, unreadable answers as missing."""
    reader, problems = visitor.reader, []
    missing = visitor.get(prefix + MISSING_INCIDENT)
    assert missing.status_code == 404
    missing_body = _as_missing(missing.get_data(as_text=True), MISSING_INCIDENT)
    for key in keys:
        spec, stix_id = PLAN.item(key), world.stix_ids[key]
        response = visitor.get(prefix + stix_id)
        if may_read(PLAN, reader, spec):
            if response.status_code != 200 or stix_id not in response.get_data(as_text=True):
                problems.append(_asked(reader, spec, f"GET {prefix}<id> answered {response.status_code}"))
        elif (response.status_code, _as_missing(response.get_data(as_text=True), stix_id)) != (404, missing_body):
            problems.append(_asked(reader, spec, f"GET {prefix}<id> answered {response.status_code}"))
    return problems


def test_incident_web_pages_answer_unreadable_incidents_exactly_like_missing_ones(app, world):
    """/incidents/<id> in the web UI, asked by each incident's probes (a reader who may read it
    and the nearest who may not, rotating over reader kinds); the lists are checked per reader."""
    problems = []
    for key in INCIDENT_KEYS:
        for reader in probes(PLAN.item(key)):
            problems += _incident_details(world, Visitor(app, world, reader), "/incidents/", [key])
    assert not problems, "\n".join(problems)


def _cell_counts(rows) -> dict:
    return {
        "incidents": len(rows),
        "from_summaries": sum(1 for source, _owner, _report in rows if source == "summary"),
        "per_month": dict(Counter(report.month for _s, _o, report in rows)),
        "by_attack_type": dict(Counter(report.attack_type for _s, _o, report in rows)),
        "by_country": dict(Counter(PLAN.orgs[owner].country for _s, owner, _r in rows)),
    }


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_dashboard_and_summaries_count_only_what_the_reader_may_see_and_no_small_cell(app, world, reader):
    """Rule 7 and 12: the dashboard counts the incidents the reader may read and the published
    summaries of the others, and no cell built from fewer than 3 organisations besides the
    reader's own; summaries name a country only where 3 organisations publish."""
    visitor = Visitor(app, world, reader)
    rows = dashboard_rows(PLAN, reader)
    seen = visitor.get("/api/v1/dashboard").json
    assert {key: seen[key] for key in ("incidents", "from_summaries", "per_month", "by_attack_type", "by_country")} \
        == _cell_counts(rows), f"GET /api/v1/dashboard as {reader_id(reader)}: oracle rows {rows}"
    wanted_cells = Counter((r.month, r.attack_type, PLAN.orgs[owner].country) for _s, owner, r in rows)
    csv_cells = {(row["month"], row["attack_type"], row["country"]): int(row["incidents"]) for row in
                 csv.DictReader(io.StringIO(visitor.get("/api/v1/dashboard.csv").get_data(as_text=True)))}
    assert csv_cells == dict(wanted_cells), f"GET /api/v1/dashboard.csv as {reader_id(reader)}"
    summaries = [(s["month"], s["attack_type"], s["country"]) for s in _api_all(visitor, "summaries", "summaries")]
    assert sorted(summaries, key=str) == summaries_seen(PLAN, reader), f"GET /api/v1/summaries as {reader_id(reader)}"


def test_the_new_columns_have_readers_on_both_sides():
    """Guards the world: consent shows and hides, vendors and named police are refused, derived
    objects are hidden by an end and not by an end the hub lacks, small cells are dropped."""
    police = {r.org: r for r in READERS if PLAN.kind_of(r) == "law_enforcement" and r.email.startswith("colleague@")}
    first = PLAN.item(INCIDENT_KEYS[0])
    assert may_read(PLAN, police["in-law-enforcement"], first)  # consent active
    assert not may_read(PLAN, police["anon-law-enforcement"], first)  # consent revoked
    third = PLAN.item(INCIDENT_KEYS[2])
    assert "in-law-enforcement" in third.audience_names and not may_read(PLAN, police["in-law-enforcement"], third)
    assert may_read(PLAN, PLAN.users["named@in-vendor.test"], third)
    assert not may_read(PLAN, PLAN.users["named@out-vendor.test"] if "named@out-vendor.test" in PLAN.users
                        else PLAN.users["operator@out-vendor.test"], third)
    for key in INCIDENT_KEYS:
        outcomes = {may_read(PLAN, r, PLAN.item(key)) for r in READERS}
        assert outcomes == {True, False}, key
    derived = [i for i in PLAN.items if i.refs and i.incident is None]
    for spec in derived:
        itself = {r.email for r in READERS if may_read(PLAN, r, replace(spec, refs=()))}
        readers = {r.email for r in READERS if may_read(PLAN, r, spec)}
        ends_held = [ref for ref in spec.refs if PLAN.item(ref)]
        assert readers <= itself and readers, spec.describe()
        if len(ends_held) < len(spec.refs):
            assert readers == {e for e in itself if all(may_read(PLAN, PLAN.users[e], PLAN.item(r)) for r in ends_held)}
    assert any({r.email for r in READERS if may_read(PLAN, r, replace(s, refs=()))} !=
               {r.email for r in READERS if may_read(PLAN, r, s)} for s in derived)
    dropped = [r for r in READERS if len(dashboard_rows(PLAN, r)) < sum(
        1 for rep in PLAN.reports if may_read(PLAN, r, PLAN.item(rep.incident)) or rep.summary)]
    assert dropped and len(dropped) < len(READERS)
    assert {country for r in READERS for _m, _a, country in summaries_seen(PLAN, r)} >= {None, "CZ"}


# --- writing: RED is for named users only (runs last: it tries to write into the world) -------

RED_AUDIENCES = [a for a in AUDIENCE_KINDS if a != "users"]


@pytest.mark.parametrize("audience", RED_AUDIENCES)
@pytest.mark.parametrize("owner_kind", ORG_KINDS)
def test_red_shared_with_anything_but_named_users_is_rejected_and_nothing_is_written(
        app, world, owner_kind, audience):
    author = PLAN.users[f"author@src-{_slug(owner_kind)}.test"]
    names = {"groups": (f"circle-{_slug(owner_kind)}",), "orgs": ("in-vendor",)}.get(audience, ())
    spec = ItemSpec("qzredqz", "indicator", author.org, author.email, "red", audience, names,
                    observable="192.0.2.77")
    rows_before = db.session.scalar(select(func.count()).select_from(SharedItem))
    body = _stix_body(spec, world.identity_ids[author.org])
    principal = world.principal(author)
    with pytest.raises(ValidationFailed) as rejected:
        share_objects(principal, [body], audience=resolve_audience(principal, _audience_request(spec)),
                      tlp=TLP.red)
    assert rejected.value.details[0]["field"] == "audience"
    response = Visitor(app, world, author).post(
        "/api/v1/share", {"objects": [body], "tlp": "red", "audience": _audience_request(spec)})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "RED" in response.json["error"] and response.json["details"]
    assert db.session.scalar(select(func.count()).select_from(SharedItem)) == rows_before
    with pytest.raises(NotFound):
        reads.get_item(principal, body["id"])
