"""REST API v1 for blocklist feeds: the feed URLs firewalls poll, and their management.

The feed URLs are `@public` for the /api/v1 shell: they authenticate the feed's own token here,
never a user's."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from hub.errors import ValidationFailed
from hub.feeds import export, services
from hub.feeds.models import Feed
from hub.principal import current_principal
from hub.rest import ApiError, json_body, public

bp = Blueprint("feeds", __name__)


def feed_urls(feed: Feed) -> dict[str, str]:
    base = current_app.config["HUB_BASE_URL"].rstrip("/") + "/api/v1/feeds/"
    return {fmt: f"{base}{feed.public_id}.{fmt}" for fmt in export.FORMATS}


def feed_json(feed: Feed, token: str | None = None) -> dict:
    body = {
        "id": feed.public_id,
        "name": feed.name,
        "kinds": feed.kinds,
        "tlps": feed.tlps,
        "min_confidence": feed.min_confidence,
        "urls": feed_urls(feed),
        "token_prefix": feed.token_prefix,
        "created_at": feed.created_at.isoformat().replace("+00:00", "Z"),
        "created_by": feed.created_by.email if feed.created_by else None,
        "last_polled_at": feed.last_polled_at.isoformat().replace("+00:00", "Z") if feed.last_polled_at else None,
    }
    if token is not None:
        body["token"] = token
    return body


# --- the feed itself -------------------------------------------------------------------------

def _poll(feed_id: str, fmt: str):
    feed = services.feed_for_authorization(feed_id, request.headers.get("Authorization"))
    if feed is None:
        # The same answer for an unknown feed, a deleted one and a wrong token.
        raise ApiError(401, "authentication required: send Authorization: Bearer <this feed's token>")
    result = services.poll(feed, fmt, request.if_none_match, request.if_modified_since)
    if result.not_modified:
        response = Response(status=304)
    else:
        response = Response(stream_with_context(result.body), content_type=export.MEDIA_TYPES[fmt])
    response.set_etag(result.etag)
    response.last_modified = result.last_modified
    # Firewalls revalidate every poll (cheap with the ETag); no shared cache keeps a member's feed.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/feeds/<feed_id>.txt")
@public
def feed_txt(feed_id: str):
    return _poll(feed_id, "txt")


@bp.get("/feeds/<feed_id>.csv")
@public
def feed_csv(feed_id: str):
    return _poll(feed_id, "csv")


@bp.get("/feeds/<feed_id>.rules")
@public
def feed_rules(feed_id: str):
    return _poll(feed_id, "rules")


# --- management ------------------------------------------------------------------------------

@bp.get("/feeds")
def list_feeds():
    return jsonify({"feeds": [feed_json(feed) for feed in services.list_feeds(current_principal())]})


@bp.post("/feeds")
def create_feed():
    body = json_body()
    unknown = sorted(set(body) - set(services.FEED_FIELDS))
    if unknown:
        raise ValidationFailed("unknown fields in the request", [
            {"field": name, "error": "not a field of a feed (" + ", ".join(services.FEED_FIELDS) + ")"}
            for name in unknown])
    feed, token = services.create_feed(current_principal(), body.get("name"), body.get("kinds"),
                                       body.get("tlps"), body.get("min_confidence"))
    return jsonify(feed_json(feed, token)), 201


@bp.post("/feeds/<feed_id>/token")
def rotate_token(feed_id: str):
    feed, token = services.rotate_token(current_principal(), feed_id)
    return jsonify(feed_json(feed, token))


@bp.delete("/feeds/<feed_id>")
def delete_feed(feed_id: str):
    services.delete_feed(current_principal(), feed_id)
    return "", 204
