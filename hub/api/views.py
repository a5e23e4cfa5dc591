"""REST API v1 routes. Each view: authenticate, parse, call a service, serialise."""
from __future__ import annotations

from datetime import datetime
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request

from hub.accounts import services as accounts
from hub.api.errors import ApiError
from hub.api.openapi import openapi_document
from hub.intel import reads
from hub.intel.audience import resolve_audience
from hub.intel.ingest import share_objects
from hub.intel.manage import revoke, widen
from hub.intel.tlp import TLP
from hub.principal import Principal
from hub.audit import record_reads

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def token_required(view):
    """Bearer-token authentication; sets g.principal to the token's user."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = accounts.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, "authentication required: send Authorization: Bearer <token>")
        g.principal = Principal.of(user)
        return view(*args, **kwargs)

    return wrapper


def json_body() -> dict:
    if not request.is_json:
        raise ApiError(415, "expected Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "malformed JSON body")
    if not isinstance(body, dict):
        raise ApiError(400, "the JSON body must be an object", [{"field": "(body)", "error": "expected {...}"}])
    return body


def _parse_tlp(value, field: str = "tlp") -> TLP:
    try:
        return TLP.parse(str(value))
    except ValueError:
        raise ApiError(422, "unknown TLP", [{"field": field, "value": value,
                                            "error": "one of clear, green, amber, amber+strict, red"}]) from None


def _parse_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid timestamp", [{"field": field, "value": value, "error": "expected RFC 3339, e.g. 2026-11-01T00:00:00Z"}]) from None
    if parsed.tzinfo is None:
        raise ApiError(400, "invalid timestamp", [{"field": field, "value": value, "error": "a time zone is required (e.g. Z)"}])
    return parsed


def _parse_limit(default: int = reads.DEFAULT_PAGE) -> int:
    value = request.args.get("limit")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= reads.MAX_PAGE:
        raise ApiError(400, "invalid limit", [{"field": "limit", "value": value, "error": f"an integer from 1 to {reads.MAX_PAGE}"}])
    return int(value)


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


@bp.post("/share")
@token_required
def share():
    body = json_body()
    if ("objects" in body) == ("bundle" in body):
        raise ApiError(422, "send either objects or bundle", [{"field": "objects", "error": "exactly one of objects, bundle"}])
    if "bundle" in body:
        bundle = body["bundle"]
        if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
            raise ApiError(422, "invalid bundle", [{"field": "bundle", "error": "expected a STIX bundle object"}])
        objects = bundle.get("objects")
    else:
        objects = body["objects"]
    if not isinstance(objects, list):
        raise ApiError(422, "invalid objects", [{"field": "objects", "error": "expected a list of STIX objects"}])
    tlp = _parse_tlp(body["tlp"]) if body.get("tlp") is not None else None
    anonymous = body.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise ApiError(422, "invalid anonymous", [{"field": "anonymous", "error": "expected true or false"}])
    audience = resolve_audience(g.principal, body.get("audience", "own"))
    items = share_objects(g.principal, objects, audience=audience, tlp=tlp, anonymous=anonymous)
    return jsonify({"ids": [item.stix_id for item in items]}), 201


@bp.get("/objects")
@token_required
def list_objects():
    tlps = tuple(_parse_tlp(value) for value in _split(request.args.getlist("tlp")))
    added_after = request.args.get("added_after")
    filters = reads.ItemFilters(
        types=_split(request.args.getlist("type")),
        tlps=tlps,
        owner=request.args.get("owner") or None,
        added_after=_parse_time(added_after, "added_after") if added_after else None,
        status=request.args.get("status", "all") if request.args.get("status") in ("all", "active", "revoked", "expired") else "all",
    )
    page = reads.list_items(
        g.principal, filters, limit=_parse_limit(), cursor=request.args.get("cursor") or None, newest_first=False
    )
    record_reads(g.principal, page.items, "api")
    return jsonify({"objects": [reads.stix_object(item) for item in page.items], "next": page.next_cursor})


@bp.get("/objects/<stix_id>")
@token_required
def get_object(stix_id: str):
    item = reads.read_item(g.principal, stix_id, "api")
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(g.principal, item, with_versions=True)})


@bp.post("/objects/<stix_id>/revoke")
@token_required
def revoke_object(stix_id: str):
    body = json_body() if request.content_length else {}
    item = revoke(g.principal, stix_id, reason=str(body.get("reason", "")))
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(g.principal, item)})


@bp.post("/objects/<stix_id>/audience")
@token_required
def widen_audience(stix_id: str):
    body = json_body()
    if "audience" not in body:
        raise ApiError(422, "missing audience", [{"field": "audience", "error": "required"}])
    item = widen(g.principal, stix_id, resolve_audience(g.principal, body["audience"]))
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(g.principal, item)})


@bp.get("/search")
@token_required
def search():
    results = reads.search(g.principal, request.args.get("q", ""), limit=_parse_limit())
    record_reads(g.principal, [item for item, _ in results], "search")
    return jsonify({"results": [
        {
            "id": item.stix_id,
            "type": item.stix_type,
            "name": item.name,
            "matched": matched,
            **reads.hub_metadata(g.principal, item),
        }
        for item, matched in results
    ]})


@bp.get("/me")
@token_required
def me():
    p: Principal = g.principal
    return jsonify({"email": p.email, "org": p.org_slug, "org_kind": p.org_kind.value,
                    "country": p.country, "role": p.role.value,
                    "groups": [group.slug for group in accounts.groups_of_org(p.org_id)]})


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(current_app.config["HUB_BASE_URL"]))
