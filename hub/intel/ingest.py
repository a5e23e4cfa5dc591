"""Sharing: validate STIX 2.1 objects (hub.intel.validation, the stix2 library), mark them TLP
2.0, store them as they were sent: a TAXII server serves back what was added, the same members
with the same values, down to a timestamp's precision.

A share is atomic: every object is checked before anything is written, and the items, versions,
observables, audience grants, audit events and outbox rows commit in one transaction.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson
import stix2
from sqlalchemy import select

from hub import bounds, policy
from hub.db import canonical_stix_id
from hub.errors import Forbidden, ValidationFailed
from hub.extensions import db
from hub.intel import fastpath, fastpath_sdo, fastpath_sro, markings, observables, reads, severity, validation, writing
from hub.intel.audience import Audience
from hub.intel.references import references_of
from hub.intel.models import SharedItem
from hub.intel.store import canonical_json, same_moment, stix_stamp_to_us, with_stamps_to_the_microsecond
from hub.outbox import Event
from hub.tlp import TLP, TLP_BY_MARKING_ID, TLP2_MARKING_IDS
from hub.principal import Principal

_STIX_ID = re.compile(
    r"^[a-z0-9][a-z0-9-]*[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
SEARCH_TEXT_LIMIT = 4000


class ObjectRejected(Exception):
    """One object cannot be shared; the message says why, `field` which property when one is to blame."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class PreparedObject:
    stix_id: str
    stix_type: str
    modified_us: int
    spec_version: str
    body: str
    tlp: TLP
    name: str
    search_text: str
    valid_until_us: int | None
    revoked: bool
    observables: set[tuple[str, str]] = field(default_factory=set)
    # The STIX ids a relationship or sighting names (rule 7: hidden when one is unreadable).
    references: set[str] = field(default_factory=set)
    # Rule 11: the sharer's own identity or none, never another member's.
    created_by_ref: str | None = None
    # A sighting's where_sighted_refs (identities or locations): likewise never another member's,
    # and not the sharer's own in an anonymous share.
    where_sighted_refs: tuple[str, ...] = ()
    # The stored object's modified (or created) as it spells it: the version a TAXII status names.
    version: str = ""
    # An observable whose id is the one its values give (see _id_from_content).
    id_from_content: bool = False
    # The id as sent, when its spelling is not the canonical stix_id (upper-case hex); else None.
    id_as_sent: str | None = None


NO_TLP_GIVEN = "object carries no TLP marking and the request names no tlp"


def _tlp_of(raw: dict, requested: TLP | None, claimed: Mapping[str, TLP] | None = None) -> TLP:
    """The object's TLP: its TLP marking (a published one, or one `claimed` by another marking
    definition, hub.intel.markings), else the requested one."""
    refs = raw.get("object_marking_refs") or []
    # Strings only, checked before any lookup: a list or object as a reference is not hashable.
    if not isinstance(refs, list) or not all(isinstance(ref, str) for ref in refs):
        raise ObjectRejected("object_marking_refs must be a list of marking-definition ids")
    marked = {TLP_BY_MARKING_ID[ref] for ref in refs if ref in TLP_BY_MARKING_ID}
    if claimed:
        marked |= {claimed[ref] for ref in refs if ref in claimed}
    granulars = raw.get("granular_markings") or []
    if not isinstance(granulars, list):
        raise ObjectRejected("granular_markings must be a list")
    for granular in granulars:
        ref = granular.get("marking_ref") if isinstance(granular, dict) else None
        if isinstance(ref, str) and (ref in TLP_BY_MARKING_ID or (claimed and ref in claimed)):
            raise ObjectRejected("TLP must be an object marking (object_marking_refs), not granular")
    if len(marked) > 1:
        labels = ", ".join(sorted(t.label for t in marked))
        raise ObjectRejected(f"object carries more than one TLP marking ({labels})")
    own = next(iter(marked), None)
    if own is not None and requested is not None and own != requested:
        raise ObjectRejected(
            f"object is marked {own.label}, which contradicts the requested tlp {requested.label}"
        )
    tlp = own or requested
    if tlp is None:
        raise ObjectRejected(NO_TLP_GIVEN)
    return tlp


def _with_tlp2_marking(raw: dict, tlp: TLP) -> dict:
    """Replace a TLP 1.0 (or OpenCTI) reference by the TLP 2.0 one in place, or append it to an
    unmarked object: the hub emits TLP 2.0 only. An object marked TLP 2.0 is left as it is."""
    sent = raw.get("object_marking_refs") or []
    wanted = TLP2_MARKING_IDS[tlp]
    refs: list = []
    for ref in sent:
        ref = wanted if ref in TLP_BY_MARKING_ID else ref
        if ref not in refs:
            refs.append(ref)
    if wanted not in refs:
        refs.append(wanted)
    return raw if refs == sent else {**raw, "object_marking_refs": refs}


def _parse(raw: dict) -> tuple[dict, bool]:
    """Validate with the stix2 library (properties, types, patterns); return the canonical dict,
    and whether the object is a cyber observable whose id is the one its values give (UUIDv5 of
    its id contributing properties).

    Simple indicators take hub.intel.fastpath, which gives the same result much faster.
    """
    fast = fastpath.parse_indicator(raw)
    if fast is not None:
        return fast, False
    # What was sent is judged, as it is what is stored: the library converts what it can ("50"
    # to 50, [1] to ["1"], "false" to False) where STIX 2.1 wants it refused, and stix2-validator
    # holds the sent JSON to the schemas and MUST rules. First, so that a refusal names the property.
    if raw["type"] == "indicator" and isinstance(raw.get("pattern"), str) and not raw["pattern"].strip():
        raise ObjectRejected("invalid indicator: the pattern is empty")  # stix2-patterns trips over it
    problems = validation.validate_object(raw)
    if problems:
        raise ObjectRejected("; ".join(str(problem) for problem in problems[:3]))
    # A plain relationship or sighting needs no stix2 object (hub.intel.fastpath_sro), nor does a
    # plain SDO of the commonest types or a custom x- object (hub.intel.fastpath_sdo).
    fast = fastpath_sro.parse_relationship(raw) or fastpath_sro.parse_sighting(raw) or fastpath_sdo.parse_sdo(raw)
    return (fast, False) if fast else _parse_fully(raw)


def _parse_fully(raw: dict) -> tuple[dict, bool]:
    object_type = raw["type"]
    try:
        # The library reads timestamps to the microsecond; what is stored keeps every digit sent.
        parsed = stix2.parse(with_stamps_to_the_microsecond(raw), allow_custom=True, version="2.1")
    except stix2.exceptions.STIXError as exc:
        raise ObjectRejected(str(exc)) from None
    except Exception as exc:  # noqa: BLE001
        # Untrusted input inside a third-party parser: whatever it raises (stix2patterns even
        # raises UnboundLocalError for an empty pattern) means the object is invalid, never a 500.
        raise ObjectRejected(f"invalid {object_type}: {exc or type(exc).__name__}") from None
    if isinstance(parsed, dict):
        # stix2 hands back custom object types unchecked; hub.intel.validation holds them to the
        # common rules (of an SDO, or of an SCO when they carry no created/modified).
        if not object_type.startswith("x-") and validation.defining_extension_type(raw) is None:
            raise ObjectRejected(
                f"unknown STIX object type {object_type!r} (a custom type starts with 'x-' or is"
                " defined by an extension-definition, extension_type new-sdo or new-sco)"
            )
        return dict(raw), False
    return orjson.loads(parsed.serialize()), _id_from_content(parsed)


def _id_from_content(parsed) -> bool:
    """Is this observable's id the one STIX derives from its values (a UUIDv5 of its id
    contributing properties, as STIX 2.1 recommends)? Anyone may send any id, so such a copy is
    what a read of the id serves before another organisation's copy holding other values under
    it (hub.intel.reads)."""
    derive = getattr(parsed, "_generate_id", None)  # stix2's own derivation, on its observables
    if derive is None:
        return False
    try:
        derived = derive()
    except Exception:  # noqa: BLE001 - no id to derive (e.g. no hash stix2 can choose)
        return False
    return isinstance(derived, str) and canonical_stix_id(derived) == canonical_stix_id(parsed["id"])


# The timestamp properties of STIX 2.1 objects. created and modified version the hub's items
# (a revision adds to them): within the hub's years (hub.bounds), so that its arithmetic on them
# never overflows. The others describe, and real data uses any year STIX can write: "never
# expires" as valid_until 9999-12-31, OpenCTI's open relationship 1970-01-01 to 5138-11-16.
STIX_TIMESTAMPS = ("created", "modified", "valid_from", "valid_until", "first_seen", "last_seen",
                   "published", "first_observed", "last_observed", "start_time", "stop_time")
_VERSIONING_TIMESTAMPS = frozenset({"created", "modified"})


def _check_timestamps(obj: dict) -> None:
    for key in STIX_TIMESTAMPS:
        value = obj.get(key)
        if value is None:
            continue
        try:
            if key in _VERSIONING_TIMESTAMPS:
                bounds.parse_instant(value)
            else:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except bounds.OutOfBounds as exc:
            raise ObjectRejected(f"{key}: {exc}") from None
        except (ValueError, TypeError):
            raise ObjectRejected(f"{key}: not a STIX timestamp") from None


# The version a TAXII client names back in a request's URL (match[version]): a longer fraction
# outgrows a request line. Real data writes nanoseconds at the finest.
MAX_VERSION_FRACTION = 32


def _check_version(obj: dict, modified_us: int) -> None:
    """The version timestamp (modified, else created), as sent: within MAX_VERSION_FRACTION digits
    after the second, and after the epoch's first microsecond, which stands for "no version"
    (observables) in the hub's keys."""
    key = "modified" if obj.get("modified") is not None else "created" if obj.get("created") is not None else None
    if key is None:
        return
    fraction = obj[key].partition(".")[2].rstrip("Zz") if isinstance(obj[key], str) else ""
    if len(fraction) > MAX_VERSION_FRACTION:
        raise ObjectRejected(f"{key}: more than {MAX_VERSION_FRACTION} digits after the second "
                             "(a client names a version back in a URL)", field=key)
    if modified_us == 0:
        raise ObjectRejected(f"{key}: the hub takes versions from 1970-01-01T00:00:00.000001Z on "
                             "(the first microsecond stands for objects without versions)", field=key)


def _modified_us(obj: dict) -> int:
    stamp = obj.get("modified") or obj.get("created")
    if stamp is None:  # SCOs are not versioned
        return 0
    try:
        return fastpath.any_precision_stamp(stamp)[0]  # the common spelling, without strptime
    except (fastpath.Declined, ValueError, TypeError, OverflowError):
        pass
    try:
        return stix_stamp_to_us(stamp)
    except (ValueError, TypeError):
        raise ObjectRejected(f"invalid timestamp {str(stamp)[:40]!r}: not an RFC 3339 time in UTC") from None


def _where_sighted(obj: dict) -> tuple[str, ...]:
    refs = obj.get("where_sighted_refs") if obj.get("type") == "sighting" else None
    return tuple(canonical_stix_id(ref) for ref in refs if isinstance(ref, str)) if isinstance(refs, list) else ()


def _display_name(obj: dict) -> str:
    for key in ("name", "value", "pattern", "path", "body"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value[:300]
    return obj["id"]


def _search_text(obj: dict, found: set[tuple[str, str]]) -> str:
    parts = [obj.get("name"), obj.get("description"), obj.get("value"), obj.get("pattern")]
    parts += [label for label in obj.get("labels") or [] if isinstance(label, str)]
    for ref in obj.get("external_references") or []:
        if isinstance(ref, dict):
            parts += [ref.get("external_id"), ref.get("url")]
    parts += [value for _kind, value in found]
    return " ".join(str(part) for part in parts if part).lower()[:SEARCH_TEXT_LIMIT]


def prepare_object(raw, requested_tlp: TLP | None, anonymous: bool,
                   claimed: Mapping[str, TLP] | None = None) -> PreparedObject | None:
    """Check one incoming object; None for the well-known TLP marking definitions themselves.
    `claimed`: the TLP other marking definitions of the share claim (hub.intel.markings)."""
    if not isinstance(raw, dict):
        raise ObjectRejected("not a JSON object")
    if bounds.UNREADABLE in raw:  # what the envelope's reader could not hold (hub.bounds.parse_json)
        raise ObjectRejected(str(raw[bounds.UNREADABLE]))
    try:
        bounds.check_json(raw)
    except bounds.OutOfBounds as exc:
        raise ObjectRejected(str(exc)) from None
    object_type, stix_id = raw.get("type"), raw.get("id")
    if not isinstance(object_type, str) or not isinstance(stix_id, str):
        raise ObjectRejected("a STIX object needs a string 'type' and 'id'")
    if not _STIX_ID.match(stix_id) or not stix_id.startswith(object_type + "--"):
        raise ObjectRejected(f"invalid STIX id {stix_id!r} for type {object_type!r}")
    if object_type == "bundle":  # an envelope's or bundle's objects are STIX objects; a bundle is not one
        raise ObjectRejected("a bundle is not a STIX object: send the objects it holds")
    if object_type == "marking-definition" and stix_id in TLP_BY_MARKING_ID:
        return None
    # spec_version is optional on SCOs, where it defaults to 2.1.
    default_version = "2.1" if validation.is_cyber_observable(raw) else None
    if raw.get("spec_version", default_version) != "2.1":
        raise ObjectRejected("only STIX 2.1 objects are accepted (spec_version must be '2.1')")
    tlp = _tlp_of(raw, requested_tlp, claimed)
    if anonymous and raw.get("created_by_ref"):
        raise ObjectRejected("an anonymous share must not carry created_by_ref")
    marked = _with_tlp2_marking(raw, tlp)
    obj, id_from_content = _parse(marked)
    # Judged as sent: the library writes a year before 1000 without its leading zero.
    _check_timestamps(marked)
    modified_us = _modified_us(obj)
    _check_version(marked, modified_us)
    weakness_problems = severity.problems_in(obj)
    if weakness_problems:
        path, reason = weakness_problems[0]
        raise ObjectRejected(f"{path}: {reason}", field=path)
    found = fastpath.pattern_observables(obj)
    if found is None:
        try:
            found = observables.from_object(obj)
        except Exception:  # the stix2 validator accepted the pattern; indexing is best effort
            found = set()
    valid_until = marked.get("valid_until")
    # Stored as sent (valid as sent, above); the hub's own columns are read from the library's form,
    # its timestamps as sent.
    stored = marked
    version = stored.get("modified") or stored.get("created") or ""
    created_by_ref = obj.get("created_by_ref")
    return PreparedObject(
        stix_id=canonical_stix_id(stix_id),
        stix_type=object_type,
        modified_us=modified_us,
        spec_version="2.1",
        body=canonical_json(stored),
        tlp=tlp,
        name=_display_name(obj),
        search_text=_search_text(obj, found),
        valid_until_us=_modified_us({"modified": valid_until}) if valid_until else None,
        revoked=bool(obj.get("revoked")),
        observables=found,
        references=references_of(obj),
        created_by_ref=canonical_stix_id(created_by_ref) if isinstance(created_by_ref, str) else None,
        where_sighted_refs=_where_sighted(obj),
        version=version if isinstance(version, str) else "",
        id_from_content=id_from_content,
        id_as_sent=writing.id_as_sent(stix_id),
    )


def superseded_copies(keyed) -> set:
    """Keys of the (key, candidate) pairs that a later copy of the same observable (an object
    without versions) under the same TLP, with other content, supersedes in one request: a request
    is read in order, so the later copy is the one kept, as if sent after, and the same pair sent
    again changes nothing. Copies under another TLP are each shared in turn (the first decides the
    TLP, rule: a new version cannot change it)."""
    last = {(candidate.stix_id, candidate.tlp): (key, candidate.body) for key, candidate in keyed
            if not candidate.version}
    return {key for key, candidate in keyed if not candidate.version
            and last[(candidate.stix_id, candidate.tlp)][0] != key
            and last[(candidate.stix_id, candidate.tlp)][1] != candidate.body}


def prepare_all(objects, requested_tlp: TLP | None, anonymous: bool,
                claimed: Mapping[str, TLP] | None = None) -> list[PreparedObject]:
    """Check every object; one ValidationFailed lists every rejected object with its index."""
    if not isinstance(objects, list) or not objects:
        raise ValidationFailed("nothing to share", [{"field": "objects", "error": "expected a non-empty list of STIX objects"}])
    prepared, problems, seen = [], [], {}
    for index, raw in enumerate(objects):
        try:
            candidate = prepare_object(raw, requested_tlp, anonymous, claimed)
        except ObjectRejected as exc:
            problems.append({
                "index": index,
                "id": raw.get("id") if isinstance(raw, dict) else None,
                "error": str(exc),
                **({"field": f"objects[{index}].{exc.field}"} if exc.field else {}),
            })
            continue
        if candidate is None:
            continue
        key = (candidate.stix_id, candidate.modified_us)
        if key in seen:  # the same version twice is sent once; another in the same microsecond is refused
            version, position = seen[key]
            if not same_moment(version, candidate.version):
                problems.append({"index": index, "id": raw.get("id"), "error": writing.MICROSECOND_TWIN})
            elif not candidate.version and candidate.body != prepared[position].body:
                prepared.append(candidate)  # an observable sent again with other content: superseded_copies
            continue
        seen[key] = (candidate.version, len(prepared))
        prepared.append(candidate)
    later_kept = superseded_copies(list(enumerate(prepared)))
    prepared = [candidate for position, candidate in enumerate(prepared) if position not in later_kept]
    if problems:
        raise ValidationFailed(f"{len(problems)} object(s) rejected; nothing was shared", problems)
    if not prepared:
        raise ValidationFailed("nothing to share", [{"field": "objects", "error": "only TLP marking definitions were given"}])
    return prepared


def share_objects(
    principal: Principal,
    objects: list,
    *,
    audience: Audience,
    tlp: TLP | None = None,
    anonymous: bool = False,
    announced_as: Event = Event.shared,
) -> list[SharedItem]:
    """Share STIX objects on behalf of the principal's organisation. Atomic; returns the items.

    `announced_as`: the event that new items are announced with (a new sighting is `sighted`:
    its readers, who must also read what it saw (rule 7), hear of it once)."""
    if not principal.can_share:
        raise Forbidden("viewers cannot share")
    prepared = prepare_all(objects, tlp, anonymous, markings.claimed_tlps(principal, objects)
                           if isinstance(objects, list) else None)
    for candidate in prepared:
        problem = policy.check_audience_for_tlp(
            candidate.tlp, audience.community, audience.group_ids, audience.org_ids, audience.user_ids
        )
        if problem:
            raise ValidationFailed("invalid audience for TLP:RED", [{"field": "audience", "id": candidate.stix_id, "error": problem}])
    try:
        items = store_prepared(principal, prepared, audience, anonymous, announced_as=announced_as)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return items


def store_prepared(principal, prepared, audience: Audience, anonymous: bool, *,
                   announced_as: Event = Event.shared) -> list[SharedItem]:
    """Write prepared objects (new items or new versions) in the current transaction; no commit.

    All or nothing: any object the hub must refuse (rule 11, version rules) refuses the call.
    """
    touched: dict[str, int] = {}
    for batch in writing.rounds(enumerate(prepared)):
        result = writing.sort_out(principal, batch, anonymous)
        if result.refused:
            raise ValidationFailed("some objects cannot be shared", [
                {"id": candidate.stix_id, "error": reason} for _, candidate, reason in result.refused])
        new_ids = writing.write_new_items(principal, [c for _, c in result.new], audience, anonymous,
                                          announced_as=announced_as)
        writing.write_new_versions(principal, [(item, c) for _, item, c in result.versions], audience, anonymous)
        writing.write_again(principal, [(item, c) for _, item, c in result.again], audience)
        touched.update({c.stix_id: item_id for (_, c), item_id in zip(result.new, new_ids)})
        touched.update({c.stix_id: item.id for _, item, c in result.versions + result.again})
        for _, candidate in result.unchanged:
            touched.setdefault(candidate.stix_id, None)
    ids = [item_id for item_id in touched.values() if item_id is not None]
    loaded = {item.id: item for item in db.session.scalars(
        select(SharedItem).where(SharedItem.id.in_(ids)).execution_options(populate_existing=True))} if ids else {}
    held_as_is = [stix_id for stix_id, item_id in touched.items() if item_id is None]
    if held_as_is:  # already held, unchanged: the organisation's own copy, else the readable one
        for item in db.session.scalars(select(SharedItem).where(SharedItem.stix_id.in_(held_as_is),
                                                                policy.readable_items(principal))
                                       .order_by(*reads.serving_order(principal))):
            touched[item.stix_id] = touched.get(item.stix_id) or item.id
            loaded.setdefault(item.id, item)
    return [loaded[item_id] for item_id in touched.values() if item_id in loaded]
