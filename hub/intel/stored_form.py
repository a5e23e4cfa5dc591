"""What the hub stores for a shared object: the object as it was sent.

A TAXII server should serve back what was added: the same members with the same values, down to
a timestamp's precision (`2020-01-01T00:00:00Z` stays so, `revoked: false` stays). The stix2
library validates an object but re-serialises it differently (milliseconds added to created and
modified, trailing zeros trimmed, properties at their default dropped), so the hub keeps the
sent form whenever it says the same thing as the library's, and the library's form otherwise
(a value the library had to convert, such as "50" for an integer, is stored converted).

The hub's own columns (modified, valid_until, revoked, names, observables) are always read from
the library's form.
"""
from __future__ import annotations

import re

# RFC 3339 in UTC with a "Z", as STIX 2.1 requires (section 3.2); any number of fraction digits.
_TIMESTAMP = re.compile(r"\A([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]+))?Z\Z")
# Properties the library fills in when they are missing; the stored form takes its values.
_GENERATED = ("created", "modified")


def _same_instant(sent: str, parsed: str) -> bool:
    """Two STIX timestamps naming the same microsecond (the library keeps microseconds at most)."""
    a, b = _TIMESTAMP.match(sent), _TIMESTAMP.match(parsed)
    if a is None or b is None or a.group(1) != b.group(1):
        return False
    fraction_a, fraction_b = (a.group(2) or ""), (b.group(2) or "")
    return fraction_a.ljust(6, "0")[:6] == fraction_b.ljust(6, "0")[:6] and fraction_a[6:].strip("0") == ""


# Values equal to themselves whatever they hold (a float may be NaN, a list or dict may hold one).
_SELF_EQUAL = frozenset({str, int, bool, type(None)})


def _equivalent(sent, parsed) -> bool:
    # A fast path's result shares the sent object's members (hub.intel.fastpath.as_the_library_reads):
    # one that is the very same text or number needs no comparison.
    if sent is parsed and type(sent) in _SELF_EQUAL:
        return True
    if isinstance(sent, dict) and isinstance(parsed, dict):
        for key in sent.keys() | parsed.keys():
            if key not in parsed:
                # The library leaves out optional booleans at their default (revoked, defanged).
                if sent[key] is not False:
                    return False
            elif key in sent:
                a, b = sent[key], parsed[key]
                if not (a is b and type(a) in _SELF_EQUAL) and not _equivalent(a, b):
                    return False
        return True
    if isinstance(sent, list) and isinstance(parsed, list):
        return len(sent) == len(parsed) and all((a is b and type(a) in _SELF_EQUAL) or _equivalent(a, b)
                                                for a, b in zip(sent, parsed))
    if type(sent) is not type(parsed):
        return False
    if isinstance(sent, str) and sent != parsed:
        return _same_instant(sent, parsed)
    return sent == parsed


def stored_form(sent: dict, parsed: dict) -> dict:
    """The object to store: `sent` when the library read it without changing its meaning, else `parsed`.

    Members the library added as defaults (pattern_version, ...) are not added to the sent form,
    except created and modified, which every versioned object must carry.
    """
    if sent is parsed:  # a fast path took the object as sent (hub.intel.fastpath_sro, fastpath_sdo)
        return sent
    if not _equivalent(sent, parsed):
        return parsed
    missing = {key: parsed[key] for key in _GENERATED if key in parsed and key not in sent}
    return {**sent, **missing} if missing else sent
