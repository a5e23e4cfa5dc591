"""TAXII 2.1 endpoints under /taxii2/. Each view: parse, call a service, answer TAXII JSON."""
from __future__ import annotations

from flask import Blueprint, current_app, request
from werkzeug.exceptions import MethodNotAllowed, NotFound as RoutingNotFound

from hub import policy
from hub.principal import current_principal
from hub.errors import Forbidden
from hub.intel.manage import revoke
from hub.taxii import errors, posting, reading
from hub.taxii.auth import taxii_endpoint
from hub.taxii.collections import collection_for, collections_for
from hub.taxii.errors import MEDIA_TYPE_TAXII, TaxiiError, raw_json, taxii_json
from hub.taxii.filters import ObjectFilters, page_request
from hub.taxii.media import envelope_objects
from hub.tlp import well_known_marking

bp = Blueprint("taxii", __name__, url_prefix="/taxii2")
errors.register(bp)

API_ROOT = "api"
OBJECT_FILTERS = ("id", "type", "version", "spec_version")


@bp.after_request
def _taxii_headers(response):
    # Every answer under /taxii2/, errors and redirects included, is TAXII 2.1 JSON.
    response.headers["Content-Type"] = MEDIA_TYPE_TAXII
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _api_root(api_root: str) -> None:
    if api_root != API_ROOT:
        raise TaxiiError(404, f"no API root {api_root}")


@bp.get("/", strict_slashes=False)
@taxii_endpoint
def discovery():
    return taxii_json({
        "title": "HealthCERT Hub",
        "description": "Threat intelligence shared among healthcare organisations (STIX 2.1, TLP 2.0).",
        "default": f"{bp.url_prefix}/{API_ROOT}/",
        "api_roots": [f"{bp.url_prefix}/{API_ROOT}/"],
    })


@bp.get("/<api_root>/", strict_slashes=False)
@taxii_endpoint
def api_root_information(api_root: str):
    _api_root(api_root)
    return taxii_json({
        "title": "HealthCERT Hub",
        "description": "Collections are audiences: community, your sharing groups, your organisation, "
                       "and everything you may read.",
        "versions": [MEDIA_TYPE_TAXII],
        "max_content_length": current_app.config["MAX_CONTENT_LENGTH"],
    })


@bp.get("/<api_root>/status/<status_id>/", strict_slashes=False)
@taxii_endpoint
def status(api_root: str, status_id: str):
    _api_root(api_root)
    return taxii_json(posting.status_resource(posting.get_status(current_principal(), status_id)))


@bp.get("/<api_root>/collections/", strict_slashes=False)
@taxii_endpoint
def collections(api_root: str):
    _api_root(api_root)
    return taxii_json({"collections": [c.resource() for c in collections_for(current_principal())]})


@bp.get("/<api_root>/collections/<collection_id>/", strict_slashes=False)
@taxii_endpoint
def collection(api_root: str, collection_id: str):
    _api_root(api_root)
    return taxii_json(collection_for(current_principal(), collection_id).resource())


def _envelope(page: reading.VersionPage) -> bytes:
    """The envelope, with stored objects spliced in as they are (stored canonical JSON)."""
    parts = [b'{"more":', b"true" if page.more else b"false"]
    if page.next:
        parts += [b',"next":"', page.next.encode(), b'"']
    if page.versions:
        parts += [b',"objects":[', b",".join(v.body.encode() for v in page.versions), b"]"]
    parts.append(b"}")
    return b"".join(parts)


@bp.route("/<api_root>/collections/<collection_id>/objects/", methods=["GET", "POST"], strict_slashes=False)
@taxii_endpoint
def objects(api_root: str, collection_id: str):
    _api_root(api_root)
    target = collection_for(current_principal(), collection_id, with_default=request.method == "POST")
    if request.method == "POST":
        objects_posted = envelope_objects()
        status_record = posting.add_objects(current_principal(), target, objects_posted)
        return taxii_json(posting.status_resource(status_record), 202)
    page = reading.page_of_versions(
        current_principal(), target, page_request(f"objects:{target.id}", match=OBJECT_FILTERS)
    )
    reading.record_reads(current_principal(), page.versions)
    return raw_json(_envelope(page), headers=page.date_added_headers())


@bp.route("/<api_root>/collections/<collection_id>/objects/<object_id>/", methods=["GET", "DELETE"], strict_slashes=False)
@taxii_endpoint
def object_by_id(api_root: str, collection_id: str, object_id: str):
    _api_root(api_root)
    target = collection_for(current_principal(), collection_id)
    if request.method == "DELETE":
        return _delete(target, object_id)
    asked = page_request(f"object:{target.id}:{object_id}", match=("version", "spec_version"))
    page = reading.page_of_versions(current_principal(), target, asked, object_id=object_id)
    # Unfiltered, an empty page already says the object is not served: no second policy query
    # for the 404 that a client polling for a pending add gets again and again.
    unfiltered = asked.filters == ObjectFilters() and asked.after_us is None
    if not page.versions and (unfiltered or not reading.object_is_served(current_principal(), target, object_id)):
        marking = well_known_marking(object_id)
        if marking is None:
            raise TaxiiError(404, f"no object {object_id} in this collection")
        # An add accepts a TLP marking definition as known (hub.intel.bulk): read back, it is the
        # published object, the same in every collection.
        return taxii_json({"more": False, "objects": [marking]})
    reading.record_reads(current_principal(), page.versions)
    return raw_json(_envelope(page), headers=page.date_added_headers())


def _delete(target, object_id: str):
    """DELETE revokes: see hub/taxii/__init__.py for why the hub does not erase shared objects."""
    if not target.can_write:
        raise TaxiiError(403, "this collection is read-only for you")
    item = reading.served_item(current_principal(), target, object_id)
    if item is None:
        raise TaxiiError(404, f"no object {object_id} in this collection")
    versions = page_request("delete", match=("version", "spec_version"), paged=False).filters.versions
    if not (versions.all or (versions.last and not versions.first and not versions.stamps_us)):
        raise TaxiiError(400, "the hub revokes whole objects: DELETE takes no match[version] other than last or all")
    if not policy.can_manage(current_principal(), item):
        raise Forbidden("only the organisation that shared an object may delete (revoke) it")
    revoke(current_principal(), object_id, reason="TAXII DELETE")
    return raw_json(b"", 200)


@bp.get("/<api_root>/collections/<collection_id>/objects/<object_id>/versions/", strict_slashes=False)
@taxii_endpoint
def object_versions(api_root: str, collection_id: str, object_id: str):
    _api_root(api_root)
    target = collection_for(current_principal(), collection_id)
    page = reading.page_of_versions(
        current_principal(), target, page_request(f"versions:{target.id}:{object_id}", match=("spec_version",)),
        object_id=object_id, with_body=False,
    )
    if not page.versions and not reading.object_is_served(current_principal(), target, object_id):
        raise TaxiiError(404, f"no object {object_id} in this collection")
    body = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if page.versions:
        body["versions"] = [v.version for v in page.versions]
    return taxii_json(body, headers=page.date_added_headers())


@bp.get("/<api_root>/collections/<collection_id>/manifest/", strict_slashes=False)
@taxii_endpoint
def manifest(api_root: str, collection_id: str):
    _api_root(api_root)
    target = collection_for(current_principal(), collection_id)
    page = reading.page_of_versions(
        current_principal(), target, page_request(f"manifest:{target.id}", match=OBJECT_FILTERS), with_body=False
    )
    body = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if page.versions:
        body["objects"] = [
            {"id": v.named, "date_added": v.date_added, "version": v.version,
             "media_type": "application/stix+json;version=2.1"}
            for v in page.versions
        ]
    return taxii_json(body, headers=page.date_added_headers())


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], strict_slashes=False)
@taxii_endpoint
def unknown_endpoint(unknown: str):
    """Anything else under /taxii2/ answers as TAXII too: 405 for a known URL, 404 otherwise."""
    adapter = current_app.url_map.bind("")
    for method in ("GET", "POST", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except (RoutingNotFound, MethodNotAllowed):
            continue
        if endpoint != "taxii.unknown_endpoint":
            raise TaxiiError(405, f"{request.method} is not supported on this endpoint")
    raise TaxiiError(404, f"no TAXII endpoint at {request.path}")
