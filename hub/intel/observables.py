"""Observable values: normalisation for exact lookup, and extraction from STIX objects.

Two spellings of one observable (`EXAMPLE.com.` and `example.com`, `2001:DB8:0::1` and
`2001:db8::1`, the defanged `hxxp://evil[.]example` and `http://evil.example`) normalise to one
value, so correlation and search are index lookups.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit, urlunsplit

import ioc_fanger
from email_validator import EmailNotValidError, validate_email
from stix2patterns.pattern import Pattern
from url_normalize import url_normalize

HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[0-9a-f]+$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

# STIX hash names (file:hashes.'SHA-256') to our kinds.
STIX_HASH_KINDS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512",
                   "SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}
KIND_STIX_HASH = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}


# Four decimal octets 0-255 without leading zeros: already what ipaddress would write.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_CANONICAL_IPV4 = re.compile(rf"\A{_OCTET}(?:\.{_OCTET}){{3}}\Z")

# Markers of a defanged value (`hxxp`, `[.]`, `(.)`, `[at]`, ` dot `...). Plain values skip the
# refanging library, whose fifty-odd substitutions cost ~100 µs a value (bulk uploads matter).
_DEFANGED = re.compile(r"[\[\](){}<>\\\s]|xx|\bdot\b|\bat\b", re.IGNORECASE)


def refang(text: str) -> str:
    """The value a defanged spelling stands for (`hxxp://evil[.]example` -> `http://evil.example`)."""
    if not _DEFANGED.search(text):
        return text
    return ioc_fanger.fang(text).strip()


def normalise_ip(value: str, version: int) -> str:
    text = value.strip()
    if version == 4 and _CANONICAL_IPV4.match(text):
        return text  # most indicators: one regex instead of ipaddress's parse, same answer
    network = ipaddress.ip_network(text, strict=False) if "/" in text else None
    if network is not None:
        if network.version != version:
            raise ValueError(f"not an IPv{version} network")
        if network.prefixlen == network.max_prefixlen:
            return str(network.network_address)
        return network.compressed
    address = ipaddress.ip_address(text)
    if address.version != version:
        raise ValueError(f"not an IPv{version} address")
    return address.compressed


def normalise_domain(value: str) -> str:
    text = value.strip().rstrip(".").lower()
    if not text or len(text) > 253:
        raise ValueError("not a domain name")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("not a valid internationalised domain name") from exc
    labels = text.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise ValueError("not a domain name (expected e.g. example.org)")
    if labels[-1].isdigit():
        raise ValueError("not a domain name (looks like an IP address)")
    return text


def normalise_url(value: str) -> str:
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in {"http", "https", "ftp", "ftps", "hxxp", "hxxps"} or not parts.hostname:
        raise ValueError("not a URL (expected e.g. https://example.org/path)")
    normalised = url_normalize(text)
    scheme, netloc, path, query, _fragment = urlsplit(normalised)
    host = netloc.rsplit("@", 1)[-1]
    if host.endswith("."):
        netloc = netloc[: len(netloc) - len(host)] + host.rstrip(".")
    # The fragment never reaches a server: it does not distinguish two indicators.
    return urlunsplit((scheme, netloc, path or "/", query, ""))


def normalise_email(value: str) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return result.normalized.lower()


def normalise_hash(value: str, kind: str) -> str:
    text = value.strip().lower()
    if not _HEX.match(text) or len(text) != HASH_LENGTHS[kind]:
        raise ValueError(f"not a {kind.upper()} hash ({HASH_LENGTHS[kind]} hexadecimal digits)")
    return text


def normalise(kind: str, value: str) -> str:
    """Normalise `value` as an observable of `kind`; ValueError says why it is not one.
    Defanged spellings are accepted everywhere (refang)."""
    return _normalise_fanged(kind, refang(value))


def _normalise_fanged(kind: str, value: str) -> str:
    if kind == "ipv4-addr":
        return normalise_ip(value, 4)
    if kind == "ipv6-addr":
        return normalise_ip(value, 6)
    if kind == "domain-name":
        return normalise_domain(value)
    if kind == "url":
        return normalise_url(value)
    if kind == "email-addr":
        return normalise_email(value)
    if kind in HASH_LENGTHS:
        return normalise_hash(value, kind)
    raise ValueError(f"unknown observable type {kind!r}")


def interpretations(text: str) -> set[tuple[str, str]]:
    """Every (kind, normalised value) a search string could mean."""
    found = set()
    for kind in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", *HASH_LENGTHS):
        try:
            found.add((kind, normalise(kind, text)))
        except (ValueError, UnicodeError):
            continue
    return found


def _unquote(literal: str) -> str:
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        return re.sub(r"\\(.)", r"\1", literal[1:-1])
    return literal


def _kind_of(object_type: str, path: list) -> str | None:
    if object_type in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"):
        return object_type if path == ["value"] else None
    if object_type == "file" and len(path) == 2 and path[0] == "hashes":
        return STIX_HASH_KINDS.get(str(path[1]).upper())
    return None


def from_pattern(pattern: str) -> set[tuple[str, str]]:
    """Observables compared for equality in a STIX pattern."""
    found = set()
    comparisons = Pattern(pattern).inspect().comparisons
    for object_type, terms in comparisons.items():
        for path, operator, literal in terms:
            kind = _kind_of(object_type, list(path))
            if kind is None or operator not in ("=", "ISSUBSET"):
                continue
            try:
                found.add((kind, normalise(kind, _unquote(literal))))
            except (ValueError, UnicodeError):
                continue
    return found


def from_object(obj: dict) -> set[tuple[str, str]]:
    """Observables an object names: an indicator's STIX pattern, or an SCO's own value."""
    object_type = obj.get("type")
    if object_type == "indicator" and obj.get("pattern_type") == "stix":
        return from_pattern(obj["pattern"])
    if object_type in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"):
        try:
            return {(object_type, normalise(object_type, str(obj.get("value", ""))))}
        except (ValueError, UnicodeError):
            return set()
    if object_type == "file":
        found = set()
        for name, digest in (obj.get("hashes") or {}).items():
            kind = STIX_HASH_KINDS.get(name.upper())
            if kind:
                try:
                    found.add((kind, normalise_hash(digest, kind)))
                except ValueError:
                    continue
        return found
    return set()


# --- Telling a bare value's kind, for uploads of observed values ------------------------------

_IPV4_SHAPE = re.compile(r"\A\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?\Z")
_HASH_KIND_BY_LENGTH = {length: kind for kind, length in HASH_LENGTHS.items()}


def classify(text: str) -> tuple[str, str] | None:
    """(kind, normalised value) of one bare observed value — an IP address or network, a domain,
    a URL, an e-mail address or a hash, defanged or not — or None when it is none of these.

    Decides the kind from the value's shape first, so that a line costs one normaliser, not
    every one of them (an upload of 100,000 lines)."""
    text = text.strip()
    if _CANONICAL_IPV4.match(text):
        return "ipv4-addr", text  # what every other step would answer, in one regex (firewall logs are mostly this)
    text = refang(text)
    if not text or len(text) > 2048:
        return None
    if "://" in text:
        kind = "url"
    elif "@" in text:
        kind = "email-addr"
    elif _IPV4_SHAPE.match(text):
        kind = "ipv4-addr"  # a canonical dotted quad skips ipaddress in normalise_ip
    elif ":" in text:
        kind = "ipv6-addr"
    elif len(text) in _HASH_KIND_BY_LENGTH and _HEX.match(text.lower()):
        kind = _HASH_KIND_BY_LENGTH[len(text)]
    else:
        kind = "domain-name"
    try:
        return kind, _normalise_fanged(kind, text)
    except (ValueError, UnicodeError):
        return None


# --- Networks: which stored addresses a network contains, which networks hold an address ------

IP_KINDS = ("ipv4-addr", "ipv6-addr")


def ip_key(kind: str, value: str) -> str | None:
    """An address's (or network's first address's) sortable key: fixed-width hex per IP
    version, so that "addresses inside a network" is one index range scan."""
    if kind not in IP_KINDS:
        return None
    if kind == "ipv4-addr" and _CANONICAL_IPV4.match(value):
        return "4:" + socket.inet_aton(value).hex()  # canonical dotted quad: its four bytes
    network = ipaddress.ip_network(value, strict=False)
    return _key_of(network.network_address)


def _key_of(address) -> str:
    width = 8 if address.version == 4 else 32
    return f"{address.version}:{int(address):0{width}x}"


def key_range(kind: str, value: str) -> tuple[str, str] | None:
    """The first and last ip_key inside a network (None for a single address)."""
    network = ipaddress.ip_network(value, strict=False)
    if network.num_addresses == 1:
        return None
    return _key_of(network.network_address), _key_of(network.broadcast_address)


# Networks wider than these are not correlations (a /0 "contains" everything).
SHORTEST_PREFIX = {"ipv4-addr": 8, "ipv6-addr": 16}


def enclosing_networks(kind: str, value: str) -> list[str]:
    """Every stored spelling of a network strictly wider than `value` that would contain it."""
    network = ipaddress.ip_network(value, strict=False)
    return [ipaddress.ip_network((network.network_address, prefix), strict=False).compressed
            for prefix in range(SHORTEST_PREFIX[kind], network.prefixlen)]


# --- Files: hashes that name one file -----------------------------------------------------------

def file_hash_groups(obj: dict) -> list[set[tuple[str, str]]]:
    """Sets of hashes that each describe one file: a file object's hashes, or the hashes an
    indicator compares in a single observation without OR (`[file:hashes.MD5 = '…' AND
    file:hashes.'SHA-256' = '…']`). Hashes joined by OR may be different files: not grouped."""
    object_type = obj.get("type")
    if object_type == "file":
        group = {pair for pair in from_object(obj) if pair[0] in HASH_LENGTHS}
        return [group] if len(group) > 1 else []
    if object_type == "indicator" and obj.get("pattern_type") == "stix":
        pattern = obj.get("pattern") or ""
        if pattern.count("[") != 1 or re.search(r"\bOR\b", pattern):
            return []
        group = {pair for pair in from_pattern(pattern) if pair[0] in HASH_LENGTHS}
        return [group] if len(group) > 1 else []
    return []
