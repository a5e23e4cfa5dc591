from flask import Blueprint

from hub.accounts.models import User
from hub.extensions import db, login_manager

bp = Blueprint("accounts", __name__, template_folder="templates")


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, epoch = session_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or str(user.session_epoch) != epoch:
        return None
    return user
