"""The ingest fast path is the full validator, only faster: proven with hypothesis.

For any object, hub.intel.fastpath either steps aside (None) or returns exactly what stix2.parse
returns, for an object stix2-validator accepts; for any pattern it takes, the STIX pattern
validator agrees and the observables are those the full extraction finds. Generated inputs stay
close to the fast path's shape on purpose, so that its edges are what gets explored.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import orjson
import pytest
import stix2
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator
from stix2validator import ValidationOptions, validate_instance

from hub.intel import fastpath, observables
from hub.intel.ingest import prepare_object
from hub.tlp import TLP, TLP2_MARKING_IDS

SETTINGS = settings(max_examples=350, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALIDATOR = ValidationOptions(version="2.1")

VALUE_TYPES = ["ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"]
HASH_ALGORITHMS = {"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128}

literal_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["198.51.100.7", "2001:DB8::1", "EXAMPLE.org.", "http://Example.COM/a b#frag",
                     "user@Example.org", "", " ", "a]b", "x'y", "back\\slash", "line\nbreak", "ümlaut.de"]),
)
hex_digest = st.integers(min_value=1, max_value=130).flatmap(
    lambda n: st.text(alphabet="0123456789abcdefABCDEFg", min_size=n, max_size=n))


@st.composite
def patterns(draw) -> str:
    """Canonical single comparisons (half the time), and near misses of every kind."""
    if draw(st.booleans()):
        if draw(st.booleans()):
            return f"[{draw(st.sampled_from(VALUE_TYPES))}:value = '{draw(literal_text)}']"
        algorithm = draw(st.sampled_from(sorted(HASH_ALGORITHMS)))
        digest = draw(st.text(alphabet="0123456789abcdefABCDEF", min_size=HASH_ALGORITHMS[algorithm],
                              max_size=HASH_ALGORITHMS[algorithm]))
        return f"[file:hashes.'{algorithm}' = '{digest}']"
    kind = draw(st.sampled_from(["value", "hash", "hash_unquoted", "compound", "mangled"]))
    if kind == "value":
        core = f"{draw(st.sampled_from(VALUE_TYPES))}:value = '{draw(literal_text)}'"
    elif kind in ("hash", "hash_unquoted"):
        algorithm = draw(st.sampled_from([*HASH_ALGORITHMS, "SHA-384", "sha-256", "SSDEEP"]))
        digest = draw(st.one_of(hex_digest, st.just("a" * HASH_ALGORITHMS.get(algorithm, 64))))
        path = f"hashes.'{algorithm}'" if kind == "hash" else f"hashes.{algorithm.replace('-', '')}"
        core = f"file:{path} = '{digest}'"
    elif kind == "compound":
        core = (f"{draw(st.sampled_from(VALUE_TYPES))}:value = '{draw(literal_text)}' "
                f"{draw(st.sampled_from(['AND', 'OR']))} url:value = 'http://x.example/'")
    else:
        core = f"{draw(st.sampled_from(VALUE_TYPES + ['IPV4-ADDR', 'x-custom']))}:value"
        core += draw(st.sampled_from([" = ", "=", "  = ", " != ", " LIKE ", " IN ", " = = "]))
        core += draw(st.sampled_from(["'{}'", "{}", "\"{}\"", "'{}"])).format(draw(literal_text))
    opening, closing = draw(st.sampled_from([("[", "]"), ("[", "]"), (" [", "]"), ("[", "] "), ("(", ")"), ("[", ""),
                                             ("[", "] WITHIN 5 SECONDS"), ("[", "]\n")]))
    return opening + core + closing


def stamp(draw, precision: str) -> str:
    moment = draw(st.one_of(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
                            st.datetimes()))  # years 1 to 9999: stix2 writes years below 1000 unpadded
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    text = f"{moment.year:04d}" + text[text.index("-"):]
    if precision == "ms":
        return text + f".{moment.microsecond // 1000:03d}Z"
    if precision == "us":
        return text + f".{moment.microsecond:06d}Z"
    if precision == "s":
        return text + "Z"
    return draw(st.sampled_from([text, text + "+00:00", text + ".1234567Z", "2026-02-30T10:00:00.000Z",
                                 "2026-11-01T24:00:00.000Z", "2026-11-01 10:00:00.000Z", "yesterday"]))


@st.composite
def indicators(draw) -> dict:
    """Half of them in the fast path's shape (its optional properties drawn freely), half anything near it."""
    in_shape = draw(st.booleans())
    precisions = st.just("ms") if in_shape else st.sampled_from(["ms", "ms", "ms", "us", "s", "bad"])
    created = stamp(draw, draw(precisions))
    modified = created if draw(st.booleans()) else stamp(draw, draw(precisions))
    if in_shape:
        created, modified = sorted([created, modified])
    obj = {
        "type": "indicator" if in_shape else draw(st.sampled_from(["indicator"] * 9 + ["malware"])),
        "spec_version": "2.1" if in_shape else draw(st.sampled_from(["2.1"] * 9 + ["2.0"])),
        "id": "uuid4" if in_shape else draw(st.sampled_from(["uuid4"] * 6 + ["upper", "variant", "prefix", "short"])),
        "created": created,
        "modified": modified,
        "pattern": draw(patterns()),
        "pattern_type": "stix" if in_shape else draw(st.sampled_from(["stix"] * 9 + ["sigma"])),
        "valid_from": stamp(draw, draw(st.sampled_from(["ms", "us", "s"]) if in_shape else precisions)),
    }
    base = str(uuid.UUID(int=draw(st.integers(min_value=0, max_value=2**128 - 1)), version=4))
    obj["id"] = {
        "uuid4": f"indicator--{base}",
        "upper": f"indicator--{base.upper()}",
        "variant": f"indicator--{base[:19]}{draw(st.sampled_from('0123456789abcdef'))}{base[20:]}",
        "prefix": f"malware--{base}",
        "short": f"indicator--{base[:-1]}",
    }[obj["id"]]
    optional = {
        "name": st.one_of(st.text(max_size=30), st.integers()),
        "description": st.text(max_size=30),
        "indicator_types": st.lists(st.one_of(st.sampled_from(["malicious-activity", "anomalous-activity"]),
                                              st.text(max_size=10)), max_size=3),
        "labels": st.one_of(st.lists(st.text(max_size=10), max_size=3), st.lists(st.integers(), min_size=1, max_size=2)),
        "pattern_version": st.sampled_from(["2.1", "2.0", "2.2", "x"]),
        "valid_until": None,  # drawn below: a timestamp of any precision
        "revoked": st.one_of(st.booleans(), st.sampled_from(["true", 0, 1])),
        "confidence": st.one_of(st.integers(min_value=-5, max_value=105), st.booleans(), st.just("50")),
        "created_by_ref": st.sampled_from([f"identity--{uuid.uuid4()}", "identity--not-a-uuid",
                                           f"malware--{uuid.uuid4()}"]),
        "object_marking_refs": st.lists(st.sampled_from([*TLP2_MARKING_IDS.values(), stix2.TLP_GREEN.id,
                                                         f"marking-definition--{uuid.uuid4()}"]), max_size=2),
        "lang": st.sampled_from(["en", "cs", "not a lang"]),
        "x_custom": st.text(max_size=5),
        "external_references": st.just([{"source_name": "feed", "url": "https://feed.example/1"}]),
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=6)):
        obj[name] = stamp(draw, draw(precisions)) if name == "valid_until" else draw(optional[name])
    return obj


def full_parse(raw: dict) -> dict | None:
    """What the stix2 library makes of the object (None when it refuses it)."""
    try:
        return orjson.loads(stix2.parse(raw, allow_custom=True, version="2.1").serialize())
    except Exception:
        return None


@SETTINGS
@given(indicators())
@example({"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
          "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
          "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
          "valid_from": "2026-11-01T10:00:00.000Z", "revoked": False, "confidence": 100})
def test_whatever_the_fast_path_takes_it_parses_exactly_as_stix2_and_validates(raw):
    fast = fastpath.parse_indicator(raw)
    event("fast path took it" if fast is not None else "fast path stepped aside")
    if fast is None:
        return
    assert full_parse(raw) == fast
    result = validate_instance(fast, VALIDATOR)
    assert result.is_valid, [str(e) for e in result.errors]


@SETTINGS
@given(patterns())
@example("[ipv4-addr:value = '198.51.100.7']")
@example("[file:hashes.'SHA-256' = '" + "A" * 64 + "']")
@example("[url:value = 'line\nbreak']")
def test_whatever_pattern_the_fast_path_takes_the_pattern_validator_accepts(pattern):
    comparison = fastpath.simple_comparison(pattern)
    event("fast path took it" if comparison is not None else "fast path stepped aside")
    if comparison is None:
        return
    assert run_validator(pattern) == []
    indicator = {"type": "indicator", "pattern_type": "stix", "pattern": pattern}
    assert fastpath.pattern_observables(indicator) == observables.from_object(indicator)


def test_the_fast_path_takes_the_indicators_feeds_send():
    taken = [
        {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
         "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-02T10:00:00.000Z",
         "name": "C2 server", "indicator_types": ["malicious-activity"], "confidence": 85,
         "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
         "valid_from": "2026-11-01T10:00:00Z", "valid_until": "2027-11-01T10:00:00.5Z",
         "object_marking_refs": [TLP.amber.marking_id], "labels": ["ransomware"]}
        for pattern in ("[ipv4-addr:value = '203.0.113.9']", "[domain-name:value = 'evil.example']",
                        "[url:value = 'https://evil.example/payload.exe']", "[email-addr:value = 'ceo@evil.example']",
                        "[ipv6-addr:value = '2001:db8::9']", "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
                        "[file:hashes.'MD5' = '" + "0" * 32 + "']")
    ]
    for raw in taken:
        fast = fastpath.parse_indicator(raw)
        assert fast is not None, raw["pattern"]
        assert fast == full_parse(raw)
    prepared = prepare_object(taken[-2], None, False)
    assert prepared.observables == {("sha256", "ab" * 32)}
    assert prepared.tlp == TLP.amber


@pytest.mark.parametrize("change", [
    {"confidence": 101},                       # stix2 takes it; STIX 2.1 and stix2-validator do not
    {"modified": "2026-10-01T10:00:00.000Z"},  # before created
    {"pattern": "[ipv4-addr:value = '1.2.3.4'] AND [ipv4-addr:value = '5.6.7.8']"},
    {"external_references": [{"source_name": "x", "url": "https://x.example/"}]},
    {"created": "2026-11-01T10:00:00Z"},       # second precision: stix2 rewrites it
    {"valid_from": None},
])
def test_the_fast_path_steps_aside_for_anything_else(change):
    raw = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
           "created": "2026-11-01T10:00:00.000Z", "modified": "2026-11-01T10:00:00.000Z",
           "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
           "valid_from": "2026-11-01T10:00:00Z", **change}
    raw = {key: value for key, value in raw.items() if value is not None}
    assert fastpath.parse_indicator(raw) is None
