"""A service's refusal, worded for a person filling in a web form, and placed beside the field.

Services word their errors for API clients: field names (`confirm_personal_data`), JSON
(`audience {"users": [...]}`), enum values (`info_request`). A web page never shows those: every
form hands a `ValidationFailed` to `attach`, which puts each detail beside the field it names in
words the form's labels use, and keeps the rest for the top of the form. One table of phrasings,
one place to extend when a service learns a new refusal.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from hub.errors import ValidationFailed

# API phrasings that mean something else on a form: the web's words for the same rule.
_PHRASES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\s*\(audience \{\"users\": \[\.\.\.\]\}\)"), ": choose “Named people” as the audience"),
    (re.compile(r"\s*\(confirm_personal_data: true\)"), " (tick the box that the text may be shared as written)"),
    (re.compile(r"an object \{\"amount\": number, \"currency\": ISO 4217 code, e\.g\. \"EUR\"\}"),
     "an amount with a three-letter currency code, e.g. EUR"),
    (re.compile(r"a list of \{\"type\": \.\.\., \"value\": \.\.\.\}"), "one indicator per line: type, a space, the value"),
    (re.compile(r"a list of at most (\d+) ISO 3166 country codes, e\.g\. \[[^\]]*\]"),
     r"at most \1 two-letter country codes, e.g. AT, SK"),
    (re.compile(r"\bexpected a non-empty list of names\b"), "choose at least one"),
    (re.compile(r"an ISO 8601 date-time, e\.g\. [^\s,;]+"), "a date and time"),
]
# Words from the API's vocabulary (fields, enum values) as a person reads them.
WORDS: dict[str, str] = {
    "confirm_personal_data": "the confirmation box",
    "cross_border_impact": "cross-border impact",
    "cross_border_countries": "countries affected",
    "suspected_malicious": "suspected malicious act",
    "info_request": "request for information",
    "involve_law_enforcement": "involve law enforcement",
    "under_review": "under review",
    "investigation_opened": "investigation opened",
    "valid_until": "valid until",
    "amber+strict": "TLP:AMBER+STRICT",
}
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def human(text: str) -> str:
    """`text` without API syntax: known phrasings reworded, field and enum names spelled out."""
    text = str(text or "")
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    for word, spelled in WORDS.items():
        text = text.replace(word, spelled)
    # An enum value nobody listed yet still reads as words, never as an identifier.
    return _SNAKE.sub(lambda match: match.group(0).replace("_", " "), text)


def detail_message(detail: Mapping, fallback: str = "") -> str:
    """One detail as a sentence fragment, naming the value it refuses when there is one."""
    message = human(detail.get("error") or fallback)
    value = detail.get("value", detail.get("excerpt"))
    if isinstance(value, str) and value.strip() and value not in message:
        return f"{value}: {message}"
    return message


def summary(error: ValidationFailed) -> str:
    """The whole refusal in one line (for a message at the top of a page)."""
    parts = [detail_message(detail) for detail in error.details if detail.get("error")]
    head = human(error.message)
    if not parts:
        return _sentence(head)
    return _sentence(head) + " " + "; ".join(_sentence(part) for part in parts)


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else ""


def attach(form, error: ValidationFailed, aliases: Mapping[str, str] | None = None) -> list[str]:
    """Put each detail of `error` beside the form field it names; returns what names no field.

    `aliases` maps a service's field name (or its first part: "impact.records_exposed",
    "new_indicators[2].value") to the form's field name where they differ. The returned messages
    are also kept in `form.general_errors`, which the `form_errors` macro shows above the form."""
    aliases = aliases or {}
    general = list(getattr(form, "general_errors", []))
    for detail in error.details or [{"error": error.message}]:
        name = _form_field_name(form, str(detail.get("field") or ""), aliases)
        message = detail_message(detail, error.message)
        field = form._fields.get(name) if name else None
        if field is None:
            general.append(message)
        elif message not in field.errors:
            field.errors = [*field.errors, message]
    form.general_errors = general
    return general


def _form_field_name(form, service_name: str, aliases: Mapping[str, str]) -> str | None:
    if not service_name:
        return None
    candidates = [service_name, service_name.rsplit(".", 1)[-1], re.split(r"[.\[]", service_name, maxsplit=1)[0]]
    for candidate in candidates:
        if candidate in aliases:
            return aliases[candidate]
        if candidate in form._fields:
            return candidate
    return None
