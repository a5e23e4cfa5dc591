"""Configuration classes, read from the environment.

With nothing configured the hub runs embedded: SQLite under instance/, a filesystem Celery broker,
in-process rate-limit storage. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""
import os
from pathlib import Path

from kombu import Queue

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
    # instance/: the embedded database and broker, evidence, beat schedule (HUB_INSTANCE_DIR).
    INSTANCE_DIR = INSTANCE_DIR
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Keys for secrets kept at rest (webhook signing secrets), newest first; SECRET_KEY if unset.
    HUB_SECRETS_KEYS = os.environ.get("HUB_SECRETS_KEYS", "")
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'hub.sqlite'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL")

    # Public base URL, used in links sent by e-mail and webhook.
    HUB_BASE_URL = os.environ.get("HUB_BASE_URL", "http://127.0.0.1:5000")
    # Largest request body accepted anywhere (API, TAXII, forms): 10 MiB.
    MAX_CONTENT_LENGTH = int(os.environ.get("HUB_MAX_CONTENT_LENGTH", 10 * 1024 * 1024))
    # Case evidence lives apart from shared intelligence; uploads may be larger than API bodies.
    HUB_EVIDENCE_DIR = os.environ.get("HUB_EVIDENCE_DIR", str(INSTANCE_DIR / "evidence"))
    HUB_EVIDENCE_MAX_BYTES = int(os.environ.get("HUB_EVIDENCE_MAX_BYTES", 50 * 1024 * 1024))
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
            # Redis: no broker-side redelivery of unacknowledged messages. kombu's restore of them
            # needs Redis itself and stops the worker when Redis goes away mid-task; the database
            # is what makes work survive (hub/alerts: outbox, leases, the sweeper).
            # Queues are read in the order of task_queues: a TAXII add waits for no alert fan-out.
            {"ack_emulation": False, "queue_order_strategy": "priority"}
            if REDIS_URL
            else {
                "data_folder_in": str(INSTANCE_DIR / "broker" / "out"),
                "data_folder_out": str(INSTANCE_DIR / "broker" / "out"),
                "processed_folder": str(INSTANCE_DIR / "broker" / "processed"),
                "control_folder": str(INSTANCE_DIR / "broker" / "control"),
                "store_processed": False,
            }
        ),
        # TAXII adds (clients poll their status until every object is readable) before the
        # alert work a large add itself queues: thousands of fan-outs must not delay the next add.
        "task_queues": (Queue("taxii"), Queue("celery")),
        "task_routes": {"taxii.*": {"queue": "taxii"}},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
    }

    # Alerts (hub/alerts): e-mail through an SMTP relay, STARTTLS and login when it wants them.
    HUB_SMTP_HOST = os.environ.get("HUB_SMTP_HOST", "localhost")
    HUB_SMTP_PORT = int(os.environ.get("HUB_SMTP_PORT", 25))
    HUB_SMTP_STARTTLS = _bool("HUB_SMTP_STARTTLS", False)
    HUB_SMTP_USER = os.environ.get("HUB_SMTP_USER")
    HUB_SMTP_PASSWORD = os.environ.get("HUB_SMTP_PASSWORD")
    HUB_MAIL_FROM = os.environ.get("HUB_MAIL_FROM", "HealthCERT Hub <alerts@localhost>")
    # Webhook targets on private, loopback, link-local or reserved addresses are refused unless
    # listed here (comma-separated hosts or CIDRs, e.g. "127.0.0.1/32,hooks.internal").
    HUB_WEBHOOK_ALLOW = os.environ.get("HUB_WEBHOOK_ALLOW", "")
    HUB_WEBHOOK_TIMEOUT = float(os.environ.get("HUB_WEBHOOK_TIMEOUT", 10))
    # Retries: exponential backoff from BASE seconds with jitter, capped at MAX, at most
    # MAX_ATTEMPTS tries; then the delivery is a dead letter that an admin can replay.
    HUB_ALERTS_MAX_ATTEMPTS = int(os.environ.get("HUB_ALERTS_MAX_ATTEMPTS", 8))
    HUB_ALERTS_BACKOFF_BASE = float(os.environ.get("HUB_ALERTS_BACKOFF_BASE", 30))
    HUB_ALERTS_BACKOFF_MAX = float(os.environ.get("HUB_ALERTS_BACKOFF_MAX", 3600))
    # Beat: sweep the outbox and stalled deliveries every SWEEP seconds, touching rows older than
    # GRACE; a worker that died mid-delivery loses it after LEASE seconds; expiries every EXPIRY.
    HUB_ALERTS_SWEEP_SECONDS = float(os.environ.get("HUB_ALERTS_SWEEP_SECONDS", 30))
    HUB_ALERTS_SWEEP_GRACE = float(os.environ.get("HUB_ALERTS_SWEEP_GRACE", 60))
    HUB_ALERTS_LEASE_SECONDS = float(os.environ.get("HUB_ALERTS_LEASE_SECONDS", 120))
    HUB_ALERTS_EXPIRY_SECONDS = float(os.environ.get("HUB_ALERTS_EXPIRY_SECONDS", 300))
    # Decay score of indicators (hub.intel.decay): halves every this many days without activity.
    HUB_DECAY_HALF_LIFE_DAYS = float(os.environ.get("HUB_DECAY_HALF_LIFE_DAYS", 30))
    # Queue alert tasks after each commit (the sweeper catches whatever this misses).
    HUB_ALERTS_ENQUEUE = _bool("HUB_ALERTS_ENQUEUE", True)
    # TAXII add-objects of this many objects or more answer at once (status pending) and are
    # shared by the workers; a worker holds one for LEASE seconds between recorded chunks, and the
    # sweeper (every SWEEP seconds) re-queues any that no worker holds. Such a request is cut into
    # up to SLICES slices (of 500 objects or more) that as many workers share at once. By default
    # one per CPU, as many as the Celery prefork pool starts: a slice more than there are workers
    # only adds its own round trips and commits. Raise it when several worker hosts share the load.
    HUB_TAXII_ASYNC_OBJECTS = int(os.environ.get("HUB_TAXII_ASYNC_OBJECTS", 200))
    HUB_TAXII_LEASE_SECONDS = float(os.environ.get("HUB_TAXII_LEASE_SECONDS", 300))
    HUB_TAXII_SWEEP_SECONDS = float(os.environ.get("HUB_TAXII_SWEEP_SECONDS", 60))
    HUB_TAXII_SLICES = int(os.environ.get("HUB_TAXII_SLICES", os.cpu_count() or 1))
    # Objects of a pending add shared and recorded in one transaction (hub/taxii/pending.py).
    HUB_TAXII_CHUNK = int(os.environ.get("HUB_TAXII_CHUNK", 500))


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
    # The cheapest argon2 cost: the suite creates hundreds of users and never needs real cost.
    ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    # A folder of the test instance, made on first upload (nothing is created at import time).
    HUB_EVIDENCE_DIR = str(INSTANCE_DIR / "test-evidence")
    # No broker in unit tests: alert tests run the fan-out themselves or start a real worker.
    HUB_ALERTS_ENQUEUE = False


class ProductionConfig(Config):
    """Refuses to start without a real SECRET_KEY (checked in create_app)."""


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
