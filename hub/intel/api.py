"""REST API v1 for shared intelligence: share, list, read, revoke, widen, search, the public view.

Parse, call a service, answer; the /api/v1 shell has authenticated the caller already."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from hub import bounds
from hub.db import canonical_stix_id
from hub.errors import ValidationFailed
from hub.intel import correlation, reads, sightings, warninglists
from hub.intel.audience import resolve_audience
from hub.intel.ingest import share_objects
from hub.intel.manage import extend, revoke, widen
from hub.principal import current_principal
from hub.rest import ApiError, json_body, page_limit, public, query_error, query_time
from hub.tlp import TLP

bp = Blueprint("intel", __name__)

SHARE_FIELDS = ("objects", "bundle", "tlp", "audience", "anonymous")
ITEM_STATUSES = ("all", "current", "active", "revoked", "expired")
TLP_CHOICES = ", ".join(tlp.value for tlp in TLP)


def _parse_tlp_query(value: str) -> TLP:
    try:
        return TLP.parse(value)
    except ValueError:
        raise query_error("tlp", value, f"one of {TLP_CHOICES}") from None


def _parse_limit(default: int = reads.DEFAULT_PAGE) -> int:
    return page_limit(default, reads.MAX_PAGE)


def _parse_cursor() -> str | None:
    cursor = request.args.get("cursor") or None
    if cursor is not None:
        try:
            reads.decode_cursor(cursor)
        except ValidationFailed:
            raise query_error("cursor", cursor, "not a cursor this hub issued; use the `next` value of a page") from None
    return cursor


def _parse_status() -> str:
    status = request.args.get("status", "all")
    if status not in ITEM_STATUSES:
        raise query_error("status", status, "one of " + ", ".join(ITEM_STATUSES))
    return status


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _share_request(body: dict) -> tuple[list, TLP | None, bool]:
    """The objects, default TLP and anonymity of a share request; 422 naming the field otherwise."""
    unknown = sorted(set(body) - set(SHARE_FIELDS))
    if unknown:
        # A misspelt "audience" or "tlp" must not silently share under the defaults.
        raise ValidationFailed("unknown fields in the request", [
            {"field": name, "error": "not a field of a share request (" + ", ".join(SHARE_FIELDS) + ")"}
            for name in unknown
        ])
    if ("objects" in body) == ("bundle" in body):
        raise ValidationFailed("send either objects or bundle", [{"field": "objects", "error": "exactly one of objects, bundle"}])
    if "bundle" in body:
        bundle = body["bundle"]
        if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
            raise ValidationFailed("invalid bundle", [{"field": "bundle", "error": "expected a STIX bundle object"}])
        objects, where = bundle.get("objects"), "bundle.objects"
    else:
        objects, where = body["objects"], "objects"
    if not isinstance(objects, list):
        raise ValidationFailed("invalid objects", [{"field": where, "error": "expected a list of STIX objects"}])
    tlp = None
    if body.get("tlp") is not None:
        try:
            tlp = TLP.parse(body["tlp"])
        except ValueError:
            raise ValidationFailed("unknown TLP", [{"field": "tlp", "value": body["tlp"], "error": f"one of {TLP_CHOICES}"}]) from None
    anonymous = body.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise ValidationFailed("invalid anonymous", [{"field": "anonymous", "value": anonymous, "error": "expected true or false"}])
    return objects, tlp, anonymous


@bp.post("/share")
def share():
    body = json_body()
    objects, tlp, anonymous = _share_request(body)
    audience = resolve_audience(current_principal(), body.get("audience", "own"))
    items = share_objects(current_principal(), objects, audience=audience, tlp=tlp, anonymous=anonymous)
    listed = warninglists.listed_in_items([item.id for item in items])
    # Each id as the request spelt it (the hub keys ids in lower case): the caller matches the
    # answer against what it sent.
    as_sent = {canonical_stix_id(obj["id"]): obj["id"] for obj in objects
               if isinstance(obj, dict) and isinstance(obj.get("id"), str)}
    named = {item.id: as_sent.get(item.stix_id, item.stix_id) for item in items}
    warnings = [{"object_id": named[item.id], **found.as_json()} for item in items for found in listed.get(item.id, [])]
    # The answer stays exactly {"ids": [...]} unless there is something to warn about.
    return jsonify({"ids": [named[item.id] for item in items], **({"warnings": warnings} if warnings else {})}), 201


@bp.get("/objects")
def list_objects():
    added_after = request.args.get("added_after")
    filters = reads.ItemFilters(
        types=_split(request.args.getlist("type")),
        tlps=tuple(_parse_tlp_query(value) for value in _split(request.args.getlist("tlp"))),
        owner=request.args.get("owner") or None,
        added_after=query_time(added_after, "added_after") if added_after else None,
        status=_parse_status(),
    )
    page = reads.list_items(current_principal(), filters, limit=_parse_limit(), cursor=_parse_cursor(), newest_first=False)
    reads.audit_reads(current_principal(), page.items, "api")
    return jsonify({"objects": [reads.stix_object(item) for item in page.items], "next": page.next_cursor})


@bp.get("/objects/<stix_id>")
def get_object(stix_id: str):
    if (published := reads.published_marking_detail(stix_id)) is not None:
        return jsonify(published)
    item = reads.read_item(current_principal(), stix_id, "api")
    meta = reads.hub_metadata(current_principal(), item, with_versions=True)
    seen = correlation.seen_by(current_principal(), item)
    meta.update(seen.as_json(), decay_score=correlation.attention_score(current_principal(), item, seen))
    return jsonify({"object": reads.stix_object(item), "hub": meta})


@bp.get("/objects/<stix_id>/correlations")
def object_correlations(stix_id: str):
    item = reads.read_item(current_principal(), stix_id, "api")
    found = correlation.correlations_of(current_principal(), item)
    reads.audit_reads(current_principal(), [c.item for c in found], "api")
    return jsonify({"correlations": [
        {"object_id": c.item.stix_id, "value": c.value, "kind": c.kind} for c in found
    ]})


@bp.post("/objects/<stix_id>/revoke")
def revoke_object(stix_id: str):
    body = json_body() if request.content_length else {}
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ValidationFailed("invalid reason", [{"field": "reason", "error": "expected a string"}])
    item = revoke(current_principal(), stix_id, reason=reason)
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(current_principal(), item, with_versions=True)})


@bp.post("/objects/<stix_id>/extend")
def extend_object(stix_id: str):
    body = json_body()
    unknown = sorted(set(body) - {"valid_until"})
    if unknown or not isinstance(body.get("valid_until"), str):
        raise ValidationFailed("send {\"valid_until\": \"<RFC 3339 date-time>\"}", [
            {"field": name, "error": "not a field of an extension (valid_until)"} for name in unknown
        ] or [{"field": "valid_until", "error": "required: an RFC 3339 date-time with a time zone"}])
    try:
        valid_until = bounds.parse_instant(body["valid_until"])
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("invalid valid_until", [{"field": "valid_until", "value": body["valid_until"],
                                                        "error": str(exc) or "expected an RFC 3339 date-time"}]) from None
    item = extend(current_principal(), stix_id, valid_until)
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(current_principal(), item, with_versions=True)})


@bp.post("/objects/<stix_id>/audience")
def widen_audience(stix_id: str):
    body = json_body()
    if "audience" not in body:
        raise ValidationFailed("missing audience", [{"field": "audience", "error": "required"}])
    item = widen(current_principal(), stix_id, resolve_audience(current_principal(), body["audience"]))
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(current_principal(), item, with_versions=True)})


@bp.post("/objects/<stix_id>/sightings")
def sight_object(stix_id: str):
    body = json_body() if request.content_length else {}
    sighting = sightings.record_sighting(current_principal(), stix_id, sightings.parse_request(body))
    return jsonify({"id": sighting.stix_id}), 201


@bp.post("/sightings/bulk")
def sight_in_bulk():
    result = sightings.record_bulk(current_principal(), sightings.parse_bulk_request(json_body()))
    return jsonify({
        "matched": [{"value": match.value, "object_ids": list(match.object_ids)} for match in result.matched],
        "unmatched": result.unmatched,
    })


@bp.get("/search")
def search():
    results = reads.search(current_principal(), request.args.get("q", ""), limit=_parse_limit())
    reads.audit_reads(current_principal(), [item for item, _ in results], "search")
    return jsonify({"results": [
        {
            "id": item.stix_id,
            "type": item.stix_type,
            "name": item.name,
            "matched": matched,
            **reads.hub_metadata(current_principal(), item),
        }
        for item, matched in results
    ]})


def _public_view_enabled() -> None:
    # Rule 4: an operator's explicit choice; otherwise the paths do not exist.
    if not current_app.config.get("HUB_PUBLIC_CLEAR"):
        raise ApiError(404, "the public view of TLP:CLEAR items is not enabled on this hub")


@bp.get("/public/objects")
@public
def list_public_objects():
    """TLP:CLEAR items (never incidents) for people who are not signed in, when enabled."""
    _public_view_enabled()
    page = reads.list_items(None, reads.ItemFilters(types=_split(request.args.getlist("type"))),
                            base=reads.public_items(), limit=_parse_limit(), cursor=_parse_cursor(),
                            newest_first=False)
    return jsonify({"objects": [reads.stix_object(item) for item in page.items], "next": page.next_cursor})


@bp.get("/public/objects/<stix_id>")
@public
def get_public_object(stix_id: str):
    _public_view_enabled()
    if (published := reads.published_marking_detail(stix_id)) is not None:
        return jsonify(published)
    item = reads.get_public_item(stix_id)
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(None, item)})
