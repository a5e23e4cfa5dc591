"""Free-text import: observables found in a pasted e-mail, report or log, shared as indicators.

Extraction is ioc-finder's (it refangs `hxxp`, `[.]`, `(.)`... with ioc-fanger); the hub keeps
the kinds it stores, normalises them as the observable index does, marks those on warning lists
(not offered for sharing) and says how often the reader can already see each one in the hub.
"""
from __future__ import annotations

from dataclasses import dataclass

from ioc_finder import find_iocs

from hub.errors import ValidationFailed
from hub.intel import builders, observables, reads, warninglists
from hub.intel.audience import Audience
from hub.intel.ingest import share_objects
from hub.intel.models import SharedItem
from hub.principal import Principal
from hub.tlp import TLP

# ioc-finder is a parser combinator: about 60 KB of text a second here, so the bound keeps a
# paste within a few seconds of work; a longer text is split by the sharer.
MAX_TEXT_BYTES = 256 * 1024
MAX_VALUES = 5000
MAX_VALUE_LENGTH = 2048  # as the share form and the observable index
# ioc-finder's result keys -> the hub's observable kinds, in the order the page lists them.
IOC_KINDS = {
    "ipv4s": "ipv4-addr", "ipv6s": "ipv6-addr", "domains": "domain-name", "urls": "url",
    "email_addresses": "email-addr", "md5s": "md5", "sha1s": "sha1", "sha256s": "sha256", "sha512s": "sha512",
}
KIND_LABELS = {kind: label for kind, (label, _type, _path) in builders.INDICATOR_KINDS.items()}


@dataclass(frozen=True)
class Found:
    """One value found in the text."""

    kind: str
    value: str
    # Warning lists it is on: dropped, not offered for sharing.
    lists: tuple[str, ...]
    # Readable items in the hub naming it already.
    known: int = 0

    @property
    def key(self) -> str:
        """How a checkbox names it: kind and value."""
        return f"{self.kind}|{self.value}"

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


def _check_size(text: str) -> None:
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise ValidationFailed("text too long", [{
            "field": "text",
            "error": f"at most {MAX_TEXT_BYTES // 1024} KB of text at once; paste it in parts",
        }])


def extract(principal: Principal, text: str) -> list[Found]:
    """Every distinct observable in the text, listed ones marked, with how often the reader
    already sees each in the hub. ValidationFailed when the text is empty or too large."""
    text = text or ""
    if not text.strip():
        raise ValidationFailed("nothing to read", [{"field": "text", "error": "paste an e-mail, a report or log lines"}])
    _check_size(text)
    try:
        iocs = find_iocs(text, parse_domain_from_url=False, parse_domain_from_email_address=False,
                         parse_urls_without_scheme=False, included_ioc_types=list(IOC_KINDS))
    except Exception:  # noqa: BLE001 — untrusted text inside a third-party parser: a 4xx, never a 500
        raise ValidationFailed("unreadable text", [{"field": "text", "error": "the text could not be read for indicators"}]) from None
    pairs: dict[tuple[str, str], None] = {}
    for key, kind in IOC_KINDS.items():
        for raw in iocs.get(key) or []:
            try:
                value = observables.normalise(kind, str(raw))
            except (ValueError, UnicodeError):
                continue  # ioc-finder's idea of a value the hub does not store
            if len(value) <= MAX_VALUE_LENGTH:
                pairs[(kind, value)] = None
    if len(pairs) > MAX_VALUES:
        raise ValidationFailed("too many values", [{
            "field": "text",
            "error": f"found {len(pairs)} values; at most {MAX_VALUES} at once: paste a smaller part",
        }])
    listed = warninglists.lists_for_many(pairs)
    counts = reads.readable_counts_by_observable(principal, [pair for pair in pairs if pair not in listed])
    return [Found(kind, value, listed.get((kind, value), ()), counts.get((kind, value), 0)) for kind, value in pairs]


def parse_chosen(keys: list[str]) -> list[tuple[str, str]]:
    """Checkbox values ("kind|value") back to normalised pairs; ValidationFailed naming a bad one."""
    chosen: dict[tuple[str, str], None] = {}
    problems = []
    for key in keys:
        kind, _, value = str(key).partition("|")
        try:
            if kind not in IOC_KINDS.values():
                raise ValueError(f"unknown kind {kind!r}")
            normalised = observables.normalise(kind, value)
            if len(normalised) > MAX_VALUE_LENGTH:
                raise ValueError(f"longer than {MAX_VALUE_LENGTH} characters")
            chosen[(kind, normalised)] = None
        except (ValueError, UnicodeError) as error:
            problems.append({"field": "chosen", "value": key[:200], "error": str(error)})
    if problems:
        raise ValidationFailed("some chosen values are not valid", problems)
    if not chosen:
        raise ValidationFailed("nothing chosen", [{"field": "chosen", "error": "tick at least one value to share"}])
    if len(chosen) > MAX_VALUES:
        raise ValidationFailed("too many values", [{"field": "chosen", "error": f"at most {MAX_VALUES} at once"}])
    return list(chosen)


def share_found(principal: Principal, chosen: list[tuple[str, str]], *, tlp: TLP, audience: Audience,
                description: str = "", confidence: int = 50, created_by_ref: str | None = None) -> list[SharedItem]:
    """Share each chosen (kind, value) as one indicator, all with one TLP and audience, in one
    transaction. Values on warning lists are refused (the page never offers them)."""
    listed = warninglists.lists_for_many(chosen)
    if listed:
        raise ValidationFailed("values on warning lists", [
            {"field": "chosen", "value": value, "error": "on warning list " + ", ".join(lists)}
            for (_kind, value), lists in listed.items()])
    objects = [
        builders.build_indicator(kind, value, description=description, confidence=confidence, tlp=tlp,
                                 created_by_ref=created_by_ref)
        for kind, value in chosen
    ]
    return share_objects(principal, objects, audience=audience, tlp=tlp)
