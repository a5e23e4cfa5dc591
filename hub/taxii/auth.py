"""Who is calling: HTTP Basic (e-mail and API token) or an API token (Bearer or Token scheme).

Account passwords are not accepted here: a TAXII client would store one in its configuration,
and signing in with it would skip the second factor. API tokens are made for machines, can be
revoked one by one, and every use is audited.
"""
from __future__ import annotations

from functools import wraps

from flask import g, request

from hub.accounts import services as accounts
from hub.principal import Principal
from hub.taxii.errors import TaxiiError
from hub.taxii.media import require_acceptable

CHANNEL = "taxii"


def _user_from_request():
    token = accounts.token_from_authorization(request.headers.get("Authorization"))
    if token is not None:
        return accounts.user_for_token(token, channel=CHANNEL)
    credentials = request.authorization
    if credentials is None:
        return None
    if credentials.type == "basic":
        user = accounts.user_for_token(credentials.password or "", channel=CHANNEL)
        # The user name must be the token owner's e-mail: a token pasted under the wrong
        # account is a configuration mistake worth refusing.
        if user is not None and user.email != (credentials.username or "").strip().lower():
            return None
        return user
    return None


def taxii_endpoint(view):
    """Authenticate (401), then negotiate the response type (406); sets g.principal."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user = _user_from_request()
        if user is None:
            raise TaxiiError(
                401,
                "sign in with HTTP Basic (your e-mail and an API token as the password) "
                "or send Authorization: Bearer <API token> (or Token <API token>)",
            )
        g.principal = Principal.of(user)
        require_acceptable()
        return view(*args, **kwargs)

    return wrapper
