"""Content negotiation (spec 1.6.8, 3.1): what the client accepts, what it sends, and its body."""
from __future__ import annotations

import orjson
from flask import current_app, request
from werkzeug.http import parse_options_header

from hub import bounds
from hub.taxii.errors import TaxiiError

TAXII_TYPE = "application/taxii+json"
SUPPORTED_VERSION = "2.1"


def _media_ranges(header: str):
    for part in header.split(","):
        part = part.strip()
        if part:
            mimetype, params = parse_options_header(part)
            yield mimetype.lower(), {key.lower(): value for key, value in params.items()}


def _quality(params: dict) -> float:
    try:
        return float(params.get("q", "1"))
    except ValueError:
        return 0.0


def require_acceptable() -> None:
    """406 unless the Accept header admits TAXII 2.1 JSON.

    No Accept header, or a wildcard, admits anything (RFC 9110); an explicit TAXII range must
    name version 2.1 or no version ("the latest the server supports").
    """
    header = request.headers.get("Accept", "").strip()
    if not header:
        return
    for mimetype, params in _media_ranges(header):
        if _quality(params) <= 0:
            continue
        if mimetype in ("*/*", "application/*"):
            return
        if mimetype == TAXII_TYPE and params.get("version", SUPPORTED_VERSION) == SUPPORTED_VERSION:
            return
    raise TaxiiError(
        406,
        f"this server answers {TAXII_TYPE};version={SUPPORTED_VERSION} only",
        {"accept": header[:200]},
    )


def envelope_objects() -> list:
    """The `objects` of the posted envelope (or STIX bundle), after the 413/415/422 checks."""
    content_type = request.headers.get("Content-Type", "")
    mimetype, params = parse_options_header(content_type)
    mimetype = mimetype.lower()
    if mimetype != TAXII_TYPE or params.get("version", SUPPORTED_VERSION) != SUPPORTED_VERSION:
        raise TaxiiError(
            415,
            f"post a TAXII envelope as {TAXII_TYPE};version={SUPPORTED_VERSION}",
            {"content_type": content_type[:200]},
        )
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise TaxiiError(413, f"the request body exceeds max_content_length ({limit} bytes)")
    try:
        # Integers and NUL are judged per object (hub.intel.ingest): one such object fails alone.
        envelope = bounds.parse_json(request.get_data(cache=False), parts_judged_later=True)
    except orjson.JSONDecodeError as exc:
        raise TaxiiError(422, "the request body is not valid JSON",
                         {"line": exc.lineno, "column": exc.colno, "error": exc.msg}) from None
    except bounds.OutOfBounds as exc:
        raise TaxiiError(422, "the request body is out of bounds", {"error": str(exc)}) from None
    # taxii2-client and stix2's TAXIICollectionSink post bundles; both carry "objects".
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    if not isinstance(objects, list) or not objects:
        raise TaxiiError(422, "the body must be a TAXII envelope with a non-empty 'objects' list")
    return objects
