"""REST API v1 for who is who: the member directory, sharing groups, and the caller itself."""
from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from hub.accounts import services as accounts
from hub.principal import OrgKind, Principal, current_principal
from hub.rest import query_error

bp = Blueprint("accounts", __name__)


@bp.get("/orgs")
def member_directory():
    kind = request.args.get("kind") or None
    if kind is not None and kind not in {k.value for k in OrgKind}:
        raise query_error("kind", kind, "one of " + ", ".join(k.value for k in OrgKind))
    country = request.args.get("country") or None
    if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
        raise query_error("country", country, "an ISO 3166-1 alpha-2 code, e.g. CZ")
    orgs = accounts.member_directory(kind=OrgKind(kind) if kind else None, country=country.upper() if country else None)
    return jsonify({"orgs": [
        {"slug": org.slug, "name": org.name, "kind": org.kind.value, "country": org.country} for org in orgs
    ]})


@bp.get("/groups")
def sharing_groups():
    groups = accounts.groups_of_org(current_principal().org_id)
    return jsonify({"groups": [
        {"slug": group.slug, "name": group.name, "orgs": sorted(org.slug for org in group.orgs)} for group in groups
    ]})


@bp.get("/me")
def me():
    p: Principal = current_principal()
    return jsonify({"email": p.email, "org": p.org_slug, "org_kind": p.org_kind.value,
                    "country": p.country, "role": p.role.value,
                    "groups": [group.slug for group in accounts.groups_of_org(p.org_id)]})
