"""Configuration classes, read from the environment.

With nothing configured the hub runs embedded: SQLite under instance/, a filesystem Celery broker,
in-process rate-limit storage. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("HUB_INSTANCE_DIR", BASE_DIR / "instance"))


def _normalise_database_url(url: str) -> str:
    # Heroku-style and bare postgresql:// URLs select psycopg2; we ship psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'hub.sqlite'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL")

    # Public base URL, used in links sent by e-mail and webhook.
    HUB_BASE_URL = os.environ.get("HUB_BASE_URL", "http://127.0.0.1:5000")
    # Largest request body accepted anywhere (API, TAXII, forms): 10 MiB.
    MAX_CONTENT_LENGTH = int(os.environ.get("HUB_MAX_CONTENT_LENGTH", 10 * 1024 * 1024))
    # CLEAR items readable without signing in: an operator's explicit choice (policy rule 4).
    HUB_PUBLIC_CLEAR = _bool("HUB_PUBLIC_CLEAR", False)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("HUB_SECURE_COOKIES", True)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", REDIS_URL or "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("HUB_LOGIN_RATE_LIMIT", "10 per minute;50 per hour")

    CELERY = {
        "broker_url": REDIS_URL or "filesystem://",
        "result_backend": REDIS_URL or f"db+sqlite:///{INSTANCE_DIR / 'celery-results.sqlite'}",
        "broker_transport_options": (
            {}
            if REDIS_URL
            else {
                "data_folder_in": str(INSTANCE_DIR / "broker" / "out"),
                "data_folder_out": str(INSTANCE_DIR / "broker" / "out"),
                "processed_folder": str(INSTANCE_DIR / "broker" / "processed"),
                "store_processed": False,
            }
        ),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
    }


class DevelopmentConfig(Config):
    """The embedded default: one command, plain HTTP on 127.0.0.1."""

    SECRET_KEY = Config.SECRET_KEY or "dev-only-not-secret"
    SESSION_COOKIE_SECURE = _bool("HUB_SECURE_COOKIES", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(
        os.environ.get("TEST_DATABASE_URL", "sqlite://")
    )
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    RATELIMIT_STORAGE_URI = "memory://"
    HUB_BASE_URL = "http://hub.test"


class ProductionConfig(Config):
    """Refuses to start without a real SECRET_KEY (checked in create_app)."""


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
