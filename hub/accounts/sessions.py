"""Web sessions kept on the server, so that signing out or changing the password ends them.

Flask's session cookie is signed, not stored: without a server-side record a copied cookie
would work until it expires. Each sign-in gets a row here and a random token; the user id that
Flask-Login puts in the session (and in a remember-me cookie) carries the token, and the user
loader accepts it only while the row has not ended.
"""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update

from hub.accounts.models import User, UserSession
from hub.db import utcnow
from hub.extensions import db


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User) -> str:
    """A new session for `user` (committed with the caller's transaction); returns its id."""
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=_token_hash(token)))
    user.web_session_token = token
    return user.get_id()


def user_of_session(session_id: str) -> User | None:
    """The user of a live session id, or None (ended, unknown, or from before a password change)."""
    user_id, epoch, token = (session_id.split(":") + ["", ""])[:3]
    if not user_id.isdigit() or not token:
        return None
    user = db.session.scalar(
        select(User).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == int(user_id), UserSession.token_hash == _token_hash(token), UserSession.ended.is_(None))
    )
    if user is None or str(user.session_epoch) != epoch or not user.is_active:
        return None
    user.web_session_token = token
    return user


def end_session(user: User) -> None:
    """End the session `user` was loaded from (sign-out); its cookie never works again."""
    token = getattr(user, "web_session_token", None)
    if token:
        db.session.execute(update(UserSession).where(UserSession.token_hash == _token_hash(token))
                           .values(ended=utcnow()))
        user.web_session_token = None


def end_other_sessions(user: User) -> int:
    """End every session of `user` but the one it was loaded from (all of them if none)."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended.is_(None))
    token = getattr(user, "web_session_token", None)
    if token:
        query = query.where(UserSession.token_hash != _token_hash(token))
    return db.session.execute(query.values(ended=utcnow())).rowcount


def update_all_sessions_ended(user: User):
    """The UPDATE that ends every live session of `user` (deactivation, 2FA reset)."""
    return update(UserSession).where(UserSession.user_id == user.id, UserSession.ended.is_(None)).values(ended=utcnow())
