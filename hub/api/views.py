"""REST API v1 routes. Each view: authenticate, parse, call a service, serialise."""
from __future__ import annotations

import re
from datetime import datetime
from functools import wraps

import orjson
from flask import Blueprint, current_app, g, jsonify, request

from hub.accounts import services as accounts
from hub.accounts.models import OrgKind
from hub.api.errors import ApiError
from hub.api.openapi import openapi_document
from hub.audit import record_reads
from hub.errors import ValidationFailed
from hub.intel import reads
from hub.intel.audience import resolve_audience
from hub.intel.ingest import share_objects
from hub.intel.manage import revoke, widen
from hub.intel.tlp import TLP
from hub.principal import Principal

bp = Blueprint("api", __name__, url_prefix="/api/v1")

SHARE_FIELDS = ("objects", "bundle", "tlp", "audience", "anonymous")
ITEM_STATUSES = ("all", "active", "revoked", "expired")
TLP_CHOICES = ", ".join(tlp.value for tlp in TLP)


@bp.after_app_request
def _json_only(response):
    # Stored descriptions are returned verbatim: no browser may sniff an API answer as HTML,
    # and no cache may keep what one member was allowed to read. Covers every /api/ route,
    # errors included.
    if request.path.startswith("/api/"):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def token_required(view):
    """Bearer-token authentication (or the Token scheme); sets g.principal to the token's user."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = accounts.token_from_authorization(request.headers.get("Authorization"))
        user = accounts.user_for_token(token) if token else None
        if user is None:
            raise ApiError(401, "authentication required: send Authorization: Bearer <token>")
        g.principal = Principal.of(user)
        return view(*args, **kwargs)

    return wrapper


def json_body() -> dict:
    """The request body as a JSON object; 415 for another content type, 400 when it is not one."""
    if not request.is_json:
        raise ApiError(415, "expected Content-Type: application/json",
                       [{"field": "Content-Type", "value": request.mimetype or None,
                         "error": "send application/json"}])
    # Read here, not via request.get_json, so that the client learns where its JSON broke.
    try:
        body = orjson.loads(request.get_data(cache=True))
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed JSON body", [{"field": "(body)", "line": exc.lineno,
                                                     "column": exc.colno, "error": exc.msg}]) from None
    if not isinstance(body, dict):
        raise ApiError(400, "the JSON body must be an object",
                       [{"field": "(body)", "error": f"expected {{...}}, got {type(body).__name__}"}])
    return body


def _query_error(field: str, value, error: str) -> ApiError:
    return ApiError(400, f"invalid query parameter {field}", [{"field": field, "value": value, "error": error}])


def _parse_tlp_query(value: str) -> TLP:
    try:
        return TLP.parse(value)
    except ValueError:
        raise _query_error("tlp", value, f"one of {TLP_CHOICES}") from None


def _parse_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _query_error(field, value, "expected RFC 3339, e.g. 2026-11-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise _query_error(field, value, "a time zone is required (e.g. Z)")
    return parsed


def page_limit(default: int, maximum: int) -> int:
    """The `limit` query parameter of a paged list; 400 naming it when it is not 1..maximum."""
    value = request.args.get("limit")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise _query_error("limit", value, f"an integer from 1 to {maximum}")
    return int(value)


def _parse_limit(default: int = reads.DEFAULT_PAGE) -> int:
    return page_limit(default, reads.MAX_PAGE)


def _parse_cursor() -> str | None:
    cursor = request.args.get("cursor") or None
    if cursor is not None:
        try:
            reads.decode_cursor(cursor)
        except ValidationFailed:
            raise _query_error("cursor", cursor, "not a cursor this hub issued; use the `next` value of a page") from None
    return cursor


def _parse_status() -> str:
    status = request.args.get("status", "all")
    if status not in ITEM_STATUSES:
        raise _query_error("status", status, "one of " + ", ".join(ITEM_STATUSES))
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
            tlp = TLP.parse(body["tlp"]) if isinstance(body["tlp"], str) else None
        except ValueError:
            pass
        if tlp is None:
            raise ValidationFailed("unknown TLP", [{"field": "tlp", "value": body["tlp"], "error": f"one of {TLP_CHOICES}"}])
    anonymous = body.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise ValidationFailed("invalid anonymous", [{"field": "anonymous", "value": anonymous, "error": "expected true or false"}])
    return objects, tlp, anonymous


@bp.post("/share")
@token_required
def share():
    body = json_body()
    objects, tlp, anonymous = _share_request(body)
    audience = resolve_audience(g.principal, body.get("audience", "own"))
    items = share_objects(g.principal, objects, audience=audience, tlp=tlp, anonymous=anonymous)
    return jsonify({"ids": [item.stix_id for item in items]}), 201


@bp.get("/objects")
@token_required
def list_objects():
    added_after = request.args.get("added_after")
    filters = reads.ItemFilters(
        types=_split(request.args.getlist("type")),
        tlps=tuple(_parse_tlp_query(value) for value in _split(request.args.getlist("tlp"))),
        owner=request.args.get("owner") or None,
        added_after=_parse_time(added_after, "added_after") if added_after else None,
        status=_parse_status(),
    )
    page = reads.list_items(g.principal, filters, limit=_parse_limit(), cursor=_parse_cursor(), newest_first=False)
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
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ValidationFailed("invalid reason", [{"field": "reason", "error": "expected a string"}])
    item = revoke(g.principal, stix_id, reason=reason)
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(g.principal, item, with_versions=True)})


@bp.post("/objects/<stix_id>/audience")
@token_required
def widen_audience(stix_id: str):
    body = json_body()
    if "audience" not in body:
        raise ValidationFailed("missing audience", [{"field": "audience", "error": "required"}])
    item = widen(g.principal, stix_id, resolve_audience(g.principal, body["audience"]))
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(g.principal, item, with_versions=True)})


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


@bp.get("/orgs")
@token_required
def member_directory():
    kind = request.args.get("kind") or None
    if kind is not None and kind not in {k.value for k in OrgKind}:
        raise _query_error("kind", kind, "one of " + ", ".join(k.value for k in OrgKind))
    country = request.args.get("country") or None
    if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
        raise _query_error("country", country, "an ISO 3166-1 alpha-2 code, e.g. CZ")
    orgs = accounts.member_directory(kind=OrgKind(kind) if kind else None, country=country.upper() if country else None)
    return jsonify({"orgs": [
        {"slug": org.slug, "name": org.name, "kind": org.kind.value, "country": org.country} for org in orgs
    ]})


@bp.get("/groups")
@token_required
def sharing_groups():
    groups = accounts.groups_of_org(g.principal.org_id)
    return jsonify({"groups": [
        {"slug": group.slug, "name": group.name, "orgs": sorted(org.slug for org in group.orgs)} for group in groups
    ]})


@bp.get("/me")
@token_required
def me():
    p: Principal = g.principal
    return jsonify({"email": p.email, "org": p.org_slug, "org_kind": p.org_kind.value,
                    "country": p.country, "role": p.role.value,
                    "groups": [group.slug for group in accounts.groups_of_org(p.org_id)]})


def _public_view_enabled() -> None:
    # Rule 4: an operator's explicit choice; otherwise the paths do not exist.
    if not current_app.config.get("HUB_PUBLIC_CLEAR"):
        raise ApiError(404, "the public view of TLP:CLEAR items is not enabled on this hub")


@bp.get("/public/objects")
def list_public_objects():
    """TLP:CLEAR items (never incidents) for people who are not signed in, when enabled."""
    _public_view_enabled()
    page = reads.list_items(None, reads.ItemFilters(types=_split(request.args.getlist("type"))),
                            base=reads.public_items(), limit=_parse_limit(), cursor=_parse_cursor(),
                            newest_first=False)
    return jsonify({"objects": [reads.stix_object(item) for item in page.items], "next": page.next_cursor})


@bp.get("/public/objects/<stix_id>")
def get_public_object(stix_id: str):
    _public_view_enabled()
    item = reads.get_public_item(stix_id)
    return jsonify({"object": reads.stix_object(item), "hub": reads.hub_metadata(None, item)})


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(current_app.config["HUB_BASE_URL"]))
