"""Subscription filters: parsing what a subscriber asked for, and matching it against an item.

Filter keys (every key optional; keys combine with AND, the values of a list with OR; an empty
filter matches everything the subscriber may read):

- `events`: which events, of "shared", "updated", "revoked", "expired", "widened", "sighted", and
  the incident work: "incident_significant", "early_warning_sent", "notification_sent",
  "intermediate_sent", "progress_sent", "final_report_sent", "advice_given", "intermediate_asked".
  Whoever was already alerted about an item is always told when it is updated, revoked or
  expires, whatever the filter says (SHARING_POLICY.md rule 9).
- `types`: STIX object types, e.g. ["indicator", "malware"].
- `observable_types`: items naming an observable of these kinds, e.g. ["ipv4-addr", "sha256"]
  (ipv4-addr, ipv6-addr, domain-name, url, email-addr, md5, sha1, sha256, sha512).
- `advisories`: true for advisories only: vulnerability objects, and reports whose
  report_types or labels say "advisory", "vulnerability" or "csaf".
- `min_tlp`: TLP at or above this level (clear < green < amber < amber+strict < red).
- `labels`: items carrying any of these STIX labels (case-insensitive).
- `owner_kind`: organisation kinds of the sharer (hospital, national_cert, law_enforcement,
  vendor, peer_hub). Anonymous items never match, except for their own organisation.
- `owner_country`: ISO 3166-1 alpha-2 codes of the sharer's country; anonymous items likewise.
- `correlates_with_own`: true for items naming an observable that the subscriber's own
  organisation has shared in another item.
  Both observable filters ignore values on the hub's warning lists (hub.intel.warninglists):
  an item whose observables are all known-benign matches neither.
- `keywords`: words or phrases found (case-insensitively) in the name, description, labels,
  external ids or observable values.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import orjson

from hub import policy
from hub.principal import OrgKind
from hub.outbox import INCIDENT_EVENTS, ITEM_EVENTS, names
from hub.errors import ValidationFailed
from hub.intel.observables import HASH_LENGTHS
from hub.tlp import TLP

OBSERVABLE_KINDS = ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", *HASH_LENGTHS)
ADVISORY_MARKERS = frozenset({"advisory", "vulnerability", "csaf"})
FILTER_KEYS = (
    "events", "types", "observable_types", "advisories", "min_tlp", "labels", "owner_kind",
    "owner_country", "correlates_with_own", "keywords",
)
MAX_LIST = 100
MAX_TEXT = 200


@dataclass(frozen=True)
class Filters:
    events: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    observable_types: frozenset[str] = frozenset()
    advisories: bool = False
    min_tlp: TLP | None = None
    labels: frozenset[str] = frozenset()
    owner_kind: frozenset[str] = frozenset()
    owner_country: frozenset[str] = frozenset()
    correlates_with_own: bool = False
    keywords: tuple[str, ...] = ()

    def as_json(self) -> dict:
        """The canonical spelling, as the API shows it back."""
        out: dict = {}
        for key in ("events", "types", "observable_types", "labels", "owner_kind", "owner_country"):
            if getattr(self, key):
                out[key] = sorted(getattr(self, key))
        if self.keywords:
            out["keywords"] = list(self.keywords)
        if self.advisories:
            out["advisories"] = True
        if self.min_tlp is not None:
            out["min_tlp"] = self.min_tlp.value
        if self.correlates_with_own:
            out["correlates_with_own"] = True
        return out


@dataclass(frozen=True)
class ItemFacts:
    """What filters look at, read once per item and event."""

    event: str
    stix_type: str
    tlp: TLP
    labels: frozenset[str]
    observable_kinds: frozenset[str]
    is_advisory: bool
    anonymous: bool
    owner_org_id: int
    owner_kind: str
    owner_country: str
    search_text: str
    # Organisations that shared, in another item, an observable this item names.
    correlated_org_ids: frozenset[int]


def _problem(key: str, value, error: str) -> ValidationFailed:
    return ValidationFailed("invalid filters", [{"field": f"filters.{key}", "value": value, "error": error}])


def _strings(key: str, value, allowed=None, *, lower: bool = True) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _problem(key, value, "expected a list of non-empty strings")
    if len(value) > MAX_LIST:
        raise _problem(key, len(value), f"at most {MAX_LIST} values")
    cleaned = [v.strip().lower() if lower else v.strip() for v in value]
    if any(len(v) > MAX_TEXT for v in cleaned):
        raise _problem(key, value, f"each value at most {MAX_TEXT} characters")
    if allowed is not None:
        unknown = [v for v in cleaned if v not in allowed]
        if unknown:
            raise _problem(key, unknown, "unknown value(s); expected some of " + ", ".join(allowed))
    return frozenset(cleaned)


def _flag(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise _problem(key, value, "expected true or false")
    return value


def parse_filters(raw) -> Filters:
    """Validate the API spelling of filters; ValidationFailed names each wrong key."""
    if raw is None:
        return Filters()
    if not isinstance(raw, dict):
        raise ValidationFailed("invalid filters", [
            {"field": "filters", "error": 'expected an object, e.g. {"types": ["indicator"]}'}])
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise ValidationFailed(
            "invalid filters",
            [{"field": f"filters.{key}", "error": "unknown filter; known: " + ", ".join(FILTER_KEYS)}
             for key in unknown],
        )
    values: dict = {}
    if "events" in raw:
        values["events"] = _strings("events", raw["events"], names(ITEM_EVENTS + INCIDENT_EVENTS))
    if "types" in raw:
        values["types"] = _strings("types", raw["types"])
    if "observable_types" in raw:
        values["observable_types"] = _strings("observable_types", raw["observable_types"], OBSERVABLE_KINDS)
    if "advisories" in raw:
        values["advisories"] = _flag("advisories", raw["advisories"])
    if raw.get("min_tlp") is not None:
        try:
            values["min_tlp"] = TLP.parse(str(raw["min_tlp"]))
        except ValueError:
            raise _problem("min_tlp", raw["min_tlp"], "one of clear, green, amber, amber+strict, red") from None
    if "labels" in raw:
        values["labels"] = _strings("labels", raw["labels"])
    if "owner_kind" in raw:
        values["owner_kind"] = _strings("owner_kind", raw["owner_kind"], tuple(k.value for k in OrgKind))
    if "owner_country" in raw:
        countries = _strings("owner_country", raw["owner_country"], lower=False)
        if not all(len(c) == 2 and c.isalpha() for c in countries):
            raise _problem("owner_country", sorted(countries), "ISO 3166-1 alpha-2 codes, e.g. CZ")
        values["owner_country"] = frozenset(c.upper() for c in countries)
    if "correlates_with_own" in raw:
        values["correlates_with_own"] = _flag("correlates_with_own", raw["correlates_with_own"])
    if "keywords" in raw:
        values["keywords"] = tuple(sorted(_strings("keywords", raw["keywords"])))
    return Filters(**values)


@lru_cache(maxsize=4096)
def load_filters(stored: str) -> Filters:
    """Filters as stored by `dump_filters` (already validated). Many subscriptions share the same
    filters, and Filters is immutable: parsed once per distinct text, not once per fan-out."""
    return parse_filters(orjson.loads(stored or "{}"))


def dump_filters(filters: Filters) -> str:
    return orjson.dumps(filters.as_json(), option=orjson.OPT_SORT_KEYS).decode()


def matches(filters: Filters, facts: ItemFacts, subscriber_org_id: int) -> bool:
    """Does the item, for this event, fall under the subscription's filters?

    Visibility is not decided here: the policy has the last word for every recipient.
    """
    if filters.events and facts.event not in filters.events:
        return False
    if filters.types and facts.stix_type not in filters.types:
        return False
    if filters.observable_types and not (filters.observable_types & facts.observable_kinds):
        return False
    if filters.advisories and not facts.is_advisory:
        return False
    if filters.min_tlp is not None and facts.tlp.rank < filters.min_tlp.rank:
        return False
    if filters.labels and not (filters.labels & facts.labels):
        return False
    if filters.owner_kind or filters.owner_country:
        # An anonymous item's source is hidden: a filter on it must not reveal it by matching.
        if not policy.reveals_owner_to_org(subscriber_org_id, facts):
            return False
        if filters.owner_kind and facts.owner_kind not in filters.owner_kind:
            return False
        if filters.owner_country and facts.owner_country not in filters.owner_country:
            return False
    if filters.correlates_with_own and subscriber_org_id not in facts.correlated_org_ids:
        return False
    if filters.keywords and not any(word in facts.search_text for word in filters.keywords):
        return False
    return True
