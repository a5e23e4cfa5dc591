"""STIX 2.1 validation at machine speed, as complete as stix2-validator.

stix2-validator checks an object in three steps: the OASIS STIX 2.1 JSON schema of its type, its
MUST rules (timestamps, patterns, language codes, marking selectors, ...) and its SHOULD rules,
which only warn. It rebuilds a pure-Python JSON schema validator for every object and runs the
SHOULD rules even when nobody reads the warnings: about 12 ms an object.

Here the same OASIS schemas (the copy stix2-validator ships as package data) are compiled once
with jsonschema-rs, the MUST rules are stix2-validator's own functions (so they cannot drift),
the indicator pattern is checked by stix2-patterns inside them, and the SHOULD rules are skipped.
Only when the compiled schema rejects an object is the pure-Python schema validator asked for
its wording, so a rejection reads exactly as stix2-validator words it.

tests/test_stix_conformance.py proves on a corpus of every STIX 2.1 object type, and invalid
counterparts, that this module and stix2-validator accept and reject the same objects.
"""
from __future__ import annotations

import copy
import functools
import inspect
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

SCO_TYPES = frozenset({
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
    "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process",
    "software", "url", "user-account", "windows-registry-key", "x509-certificate",
})
_NON_OBSERVABLE_TYPES = frozenset({
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
    "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note",
    "observed-data", "opinion", "report", "threat-actor", "tool", "vulnerability",
    "relationship", "sighting", "marking-definition", "language-content", "extension-definition",
})
# Types whose schema sits in schemas/common/ next to helper schemas (timestamp, hex, ...) that
# are no object types.
_COMMON_OBJECT_TYPES = ("marking-definition", "language-content", "extension-definition")
_EXTENSION_ID = re.compile(r"\Aextension-definition--")
_FORMATS = ("uri", "idn-hostname", "email")


@dataclass(frozen=True)
class Problem:
    """One reason an object is not valid STIX 2.1: where (a property path, or '') and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


def defining_extension_type(obj: dict) -> str | None:
    """'new-sdo' / 'new-sco' when an extension-definition defines this object's type, else None."""
    extensions = obj.get("extensions")
    if not isinstance(extensions, dict):
        return None
    for key, extension in extensions.items():
        if _EXTENSION_ID.match(key) and isinstance(extension, dict):
            kind = extension.get("extension_type")
            if kind in ("new-sdo", "new-sco", "new-sro"):
                return kind
    return None


def is_cyber_observable(obj: dict) -> bool:
    """An SCO: one of the 18 STIX types, or a custom type without created/modified (as the spec
    and stix2-validator tell them apart), or one an extension-definition declares new-sco."""
    object_type = obj.get("type")
    if object_type in SCO_TYPES:
        return True
    if object_type in _NON_OBSERVABLE_TYPES:
        return False
    kind = defining_extension_type(obj)
    if kind is not None:
        return kind == "new-sco"
    return "created" not in obj and "modified" not in obj


def validate_object(obj: dict) -> list[Problem]:
    """Every reason stix2-validator (version 2.1, default options) would give to reject obj."""
    problems = _schema_problems(obj, _compiled())
    # The MUST rules assume the shapes the schema guarantees: on a schema failure, a rule that
    # trips over the object adds nothing the schema has not said.
    return problems + _must_problems(obj, quiet=bool(problems))


# --- the JSON schemas ---------------------------------------------------------------------


@dataclass
class _Compiled:
    by_type: dict  # object type -> jsonschema-rs validator
    core: object
    observable_core: object
    observed_data_shell: object
    sources: dict  # object type / "core" / "cyber-observable-core" -> schema file path


def _schema_dir() -> Path:
    import stix2validator

    return Path(stix2validator.__file__).parent / "schemas-2.1" / "schemas"


def _load(path: Path) -> dict:
    schema = json.loads(path.read_text(encoding="utf-8"))
    if "$schema" in schema:  # jsonschema-rs knows the draft only by its https URI
        schema["$schema"] = schema["$schema"].replace("http://json-schema.org/", "https://json-schema.org/")
    return schema


@functools.cache
def _compiled() -> _Compiled:
    import jsonschema
    import jsonschema_rs

    # The same format checks as stix2-validator's (it registers its own 'email' rule on import).
    import stix2validator  # noqa: F401

    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    formats = {name: functools.partial(_conforms, checker, name) for name in _FORMATS}

    root = _schema_dir()
    schemas = {path: _load(path) for path in root.rglob("*.json")}
    resources = [(schema["$id"], schema) for schema in schemas.values() if "$id" in schema]
    registry = jsonschema_rs.Registry(resources, retriever=_no_network)

    def compile_(schema: dict):
        return jsonschema_rs.validator_for(
            schema, registry=registry, retriever=_no_network, formats=formats, validate_formats=True,
            base_uri=schema.get("$id"),
        )

    sources, by_type = {}, {}
    for path, schema in schemas.items():
        folder = path.parent.name
        if folder in ("sdos", "sros", "observables") or path.stem in _COMMON_OBJECT_TYPES:
            sources[path.stem] = path
            if path.stem != "observed-data":
                by_type[path.stem] = compile_(schema)
    sources["core"] = root / "common" / "core.json"
    sources["cyber-observable-core"] = root / "common" / "cyber-observable-core.json"

    # Like stix2-validator: observed-data's deprecated 'objects' is checked object by object.
    observed = copy.deepcopy(schemas[sources["observed-data"]])
    observed["allOf"][1]["properties"]["objects"] = {"type": "object", "minProperties": 1}
    by_type["observed-data"] = compile_(observed)
    return _Compiled(
        by_type=by_type,
        core=compile_(schemas[sources["core"]]),
        observable_core=compile_(schemas[sources["cyber-observable-core"]]),
        observed_data_shell=by_type["observed-data"],
        sources=sources,
    )


def _no_network(uri: str):
    # Every $ref of the OASIS schemas resolves inside the package; never fetch one.
    raise LookupError(f"STIX schema {uri} is not in stix2-validator's package data")


def _conforms(checker, name: str, value) -> bool:
    return checker.conforms(value, name)


def _validator_for(obj: dict, compiled: _Compiled, observable: bool = False):
    object_type = obj.get("type")
    specific = compiled.by_type.get(object_type) if isinstance(object_type, str) else None
    if specific is not None:
        return specific
    # Custom and extension-defined types: the common properties only, as stix2-validator does.
    if observable or ("created" not in obj and "modified" not in obj and obj.get("type") != "marking-definition"):
        return compiled.observable_core
    return compiled.core


def _schema_problems(obj: dict, compiled: _Compiled) -> list[Problem]:
    shapeless = _shapeless_observables(obj)
    if shapeless:
        return shapeless
    if _validator_for(obj, compiled).is_valid(obj) and _embedded_observables_valid(obj, compiled):
        return []
    # Rare: word the rejection as stix2-validator does, from its own schema validator.
    try:
        problems = _stix2validator_schema_problems(obj)
    except Exception:  # noqa: BLE001 - it trips over some invalid shapes; jsonschema-rs words those
        problems = []
    if problems:
        return problems
    problems = [Problem(_path(error.instance_path), error.message) for error in _validator_for(obj, compiled).iter_errors(obj)]
    return problems or [Problem("", "not valid against the STIX 2.1 JSON schema of its type")]


def _shapeless_observables(obj: dict) -> list[Problem]:
    """observed-data's deprecated 'objects' must be a dictionary of typed objects."""
    if obj.get("type") != "observed-data" or "objects" not in obj:
        return []
    if not isinstance(obj["objects"], dict):
        return [Problem("objects", "Observed Data objects must be in dict format.")]
    return [
        Problem(f"objects.{key}", "Observable object must contain a 'type' property.")
        for key, embedded in obj["objects"].items()
        if not isinstance(embedded, dict) or not isinstance(embedded.get("type"), str)
    ]


def _embedded_observables_valid(obj: dict, compiled: _Compiled) -> bool:
    if obj.get("type") != "observed-data" or "objects" not in obj:
        return True
    return all(
        _validator_for(embedded, compiled, observable=True).is_valid(embedded) for embedded in obj["objects"].values()
    )


def _path(parts) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _split(message: str) -> Problem:
    """stix2-validator's 'path: reason' (after the object id prefix) as a Problem."""
    location, sep, reason = message.partition(": ")
    if sep and location and " " not in location and "'" not in location:
        return Problem(location, reason)
    return Problem("", message)


def _stix2validator_schema_problems(obj: dict) -> list[Problem]:
    from stix2validator.errors import pretty_error
    from stix2validator.validator import _schema_validate

    problems = []
    for errors, prefix in _schema_validate(obj, _options()):
        for error in errors:
            message = pretty_error(error, False)
            problems.append(_split(_without_id(prefix + message, obj)))
    return problems


def _without_id(message: str, obj: dict) -> str:
    prefix = f"{obj.get('id')}: "
    return message[len(prefix):] if message.startswith(prefix) else message


# --- the MUST rules -----------------------------------------------------------------------


@functools.cache
def _options():
    from stix2validator import ValidationOptions

    return ValidationOptions(version="2.1")


@functools.cache
def _musts() -> tuple:
    from stix2validator.v21 import musts

    faster = {musts.timestamp: _timestamp, musts.timestamp_compare: _timestamp_compare}
    return tuple(faster.get(rule, rule) for rule in musts.list_musts(_options()))


def _timestamp(instance):
    """stix2-validator's timestamp rule, which parses every timestamp with dateutil (most of its
    time), run only when some timestamp-shaped string in the object is not a real moment."""
    from stix2validator.v21 import musts

    if not _every_stamp_real(instance):
        yield from musts.timestamp(instance)


# The spelling whose strptime reading (stix2-validator's, microseconds at most) is plain datetime().
_PLAIN_STAMP = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z\Z")


def _plain_moment(value) -> datetime | None:
    return _plain_moment_of(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=4096)  # a bundle repeats its timestamps: each spelling read once
def _plain_moment_of(value: str) -> datetime | None:
    match = _PLAIN_STAMP.match(value)
    if match is None:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()[:6]), int((match.group(7) or "0").ljust(6, "0")))
    except ValueError:
        return None


def _timestamp_compare(instance):
    """stix2-validator's rule that modified >= created (and the like per type), which reads each
    timestamp with strptime: run only when some pair is not plainly in order."""
    from stix2validator.v21 import enums, musts

    pairs = [("modified", "ge", "created"), *enums.TIMESTAMP_COMPARE.get(instance.get("type", ""), [])]
    for first, op, second in pairs:
        if first in instance and second in instance:
            later, earlier = _plain_moment(instance[first]), _plain_moment(instance[second])
            if later is None or earlier is None or not (later >= earlier if op == "ge" else later > earlier):
                yield from musts.timestamp_compare(instance)
                return


# A string value shaped like a STIX timestamp as orjson writes it (a trailing newline, which `$` allows, is
# written "\\n"). Found in the object's JSON text in one pass of the regex engine instead of a walk
# of every value in Python; a key or an escaped quote may match too, which only runs the rule.
_STAMP_IN_JSON = re.compile(
    rb'"([0-9]{4})-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)'
    rb'(?:\.[0-9]+)?Z(?:\\n)?"'
)


def _every_stamp_real(value) -> bool:
    try:
        text = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):  # not plain JSON: let the rule itself judge
        return False
    return all(_real_stamp(match.group(0)) for match in _STAMP_IN_JSON.finditer(text))


@functools.lru_cache(maxsize=4096)  # a bundle repeats its timestamps: each spelling judged once
def _real_stamp(quoted: bytes) -> bool:
    try:
        datetime(*(int(part) for part in _STAMP_IN_JSON.match(quoted).groups()))
    except ValueError:  # 30 February, second 60, year 0...
        return False
    return True


@functools.cache
def _bound_musts() -> tuple | None:
    """The MUST rules, each ready to take just the object; None if one is not a generator function.

    stix2-validator calls each rule with the object and, on TypeError, again with the options too:
    an exception raised and caught for every object. A generator function's call raises nothing
    but that arity error (its body runs when iterated), so binding the options up front is the same.
    """
    bound = []
    for rule in _musts():
        if not inspect.isgeneratorfunction(rule):
            return None
        # Called with the object alone, a rule declared (instance, options) raises at once and is
        # called again with both; a decorated rule (*args, **kwargs) takes the object alone.
        wants_options = "options" in inspect.signature(rule).parameters
        bound.append(functools.partial(rule, options=_options()) if wants_options else rule)
    return tuple(bound)


# When each MUST rule of stix2-validator 3.3 can say anything, read from its source: the rules
# about cyber observables (its `cyber_observable_check`) act only on the 18 SCO types and on
# observed-data with a dictionary of objects; the others on one type or one property. A rule not
# named here (a newer stix2-validator's) always runs.
_OBSERVABLE_RULES = frozenset({"observable_timestamp_compare", "observable_object_references", "artifact_mime_type",
                               "character_set", "software_language"})
_RULE_TYPES = {"object_marking_circular_refs": {"marking-definition"},
               "granular_markings_circular_refs": {"marking-definition"}, "patterns": {"indicator"},
               "language_contents": {"language-content"}, "process": {"process"},
               "uuid_version_check": {"artifact", "email-message", "user-account", "windows-registry-key",
                                      "x509-certificate"}}
_RULE_PROPERTIES = {"marking_selector_syntax": "granular_markings", "language": "lang", "cpe_check": "cpe"}


def _rule_name(rule) -> str:
    return getattr(getattr(rule, "func", rule), "__name__", "")


@functools.lru_cache(maxsize=512)
def _rules_for(rules: tuple, object_type: str, properties: frozenset) -> tuple:
    """The rules that can find something in an object of this type with these of its properties."""
    from stix2validator.v21.enums import OBSERVABLE_TYPES

    observable = object_type in OBSERVABLE_TYPES or "observed-data objects" in properties
    chosen = []
    for rule in rules:
        name = _rule_name(rule)
        if name in _OBSERVABLE_RULES and not observable:
            continue
        if name in _RULE_TYPES and object_type not in _RULE_TYPES[name]:
            continue
        if name in _RULE_PROPERTIES and _RULE_PROPERTIES[name] not in properties:
            continue
        chosen.append(rule)
    return tuple(chosen)


def _applicable(instance: dict, rules: tuple) -> tuple:
    object_type = instance.get("type")
    if type(object_type) is not str:
        return rules  # the rules themselves judge (and trip over) a typeless object
    properties = frozenset(key for key in ("granular_markings", "lang", "cpe") if key in instance)
    if object_type == "observed-data" and type(instance.get("objects")) is dict:
        properties |= {"observed-data objects"}
    return _rules_for(rules, object_type, properties)


def _run_musts(instance: dict, rules: tuple):
    """The rules' errors for an object, then for STIX objects held in its lists (as stix2-validator)."""
    for rule in _applicable(instance, rules):
        yield from rule(instance)
    for value in instance.values():
        if type(value) is list:
            for held in value:
                if isinstance(held, dict) and "id" in held and "type" in held:
                    yield from _run_musts(held, rules)


def _must_problems(obj: dict, quiet: bool = False) -> list[Problem]:
    from stix2validator.errors import pretty_error
    from stix2validator.validator import _iter_errors_custom

    options = _options()
    options.set_check_codes("2.1")
    rules = _bound_musts()
    try:
        errors = list(_run_musts(obj, rules) if rules else _iter_errors_custom(obj, list(_musts()), options))
    except Exception as exc:  # noqa: BLE001 - a rule tripping over odd input means invalid input
        return [] if quiet else [Problem("", f"invalid {obj.get('type')}: {exc or type(exc).__name__}")]
    return [_split(_without_id(pretty_error(error, False), obj)) for error in errors]
