"""Settings, read once from the environment (and an optional `.env` file)."""

from __future__ import annotations

import ipaddress
from datetime import time, timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE names another file, or none when empty (the test suite sets it so a
# development .env written by `make run` cannot change what the tests see).
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # First: its translations win over the admin's.
    "scheduler",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "ninja",  # serves the API docs' scripts from STATIC_ROOT, not a CDN
]
# The dispatch benchmark (`manage.py bench_dispatch`) is a development tool.
BENCH = env.bool("BENCH", default=False)
if DEBUG or BENCH:
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Errors under /api/ are JSON, also those rendered outside the API's own handlers.
    "scheduler.api.errors.JsonErrorsUnderApi",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's look (admin/base_site.html, the login lockout page) comes
        # first; each app keeps its own page templates.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "scheduler.monitoring.health.admin_banner",
                "scheduler.admin.login.login_alert_banner",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the cluster and run_dispatch write at the same time:
    # WAL lets readers run beside a writer, IMMEDIATE takes the write lock at
    # BEGIN (no lock upgrade deadlocks) and the timeout waits instead of failing.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=30),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _db["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", default=True):
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": 30,
    }
    _db["CONN_MAX_AGE"] = 0
    # Django's backend, but each connection is checked as it leaves the pool and
    # the first dead one (a database restart) replaces every idle one: the next
    # request gets a fresh connection instead of a dead one or a long wait.
    _db["ENGINE"] = "config.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Login throttle (django-axes) -----------------------------------------
# The axes backend refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# One address trying any names, or a name from one address, is locked; a name alone
# never is, or anyone could lock the real coordinator out (scheduler/admin/login.py).
AXES_LOCKOUT_PARAMETERS = ["ip_address", ["username", "ip_address"]]
# Failures for one user name from all addresses within the cool-off that make
# superusers see a banner (and a warning logged): reported, not locked.
LOGIN_ALERT_FAILURES_PER_USERNAME = env.int("LOGIN_ALERT_FAILURES_PER_USERNAME", default=20)
AXES_HANDLER = "scheduler.admin.login.AlertingDatabaseHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "scheduler.admin.login.lockout_response"

# --- Language and time ----------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="nb")
LANGUAGES = [("nb", "Norsk bokmål"), ("en", "English")]
# One catalogue, the app's: makemessages run at the top puts templates/'s strings there too.
LOCALE_PATHS = [BASE_DIR / "scheduler" / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Oslo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# --- Deployment hardening (all on unless DEBUG) ----------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies of ours append to X-Forwarded-For; the client's address is the
# entry this far from the right (0: REMOTE_ADDR). Behind the TLS proxy, one.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if BEHIND_TLS_PROXY else 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 (no proxy) or more.")
# The proxy's own addresses (CIDR); a request from elsewhere did not come through
# it, and its X-Forwarded-For is ignored. Empty: any peer is taken for the proxy.
TRUSTED_PROXY_NETWORKS = env.list("TRUSTED_PROXY_NETWORKS", default=[])
try:
    for _network in TRUSTED_PROXY_NETWORKS:
        ipaddress.ip_network(_network, strict=False)
except ValueError as _error:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_NETWORKS: {_error}") from None
# The login throttle, /metrics and the API throttle all take the client's address from here.
AXES_CLIENT_IP_CALLABLE = "scheduler.client_ip.client_ip"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Push delivery --------------------------------------------------------
PUSH_BACKEND = env.str("PUSH_BACKEND", default="console")
PUSH_CONNECT_TIMEOUT_SECONDS = env.float("PUSH_CONNECT_TIMEOUT_SECONDS", default=3.05)
PUSH_READ_TIMEOUT_SECONDS = env.float("PUSH_READ_TIMEOUT_SECONDS", default=10.0)
# The most one push request may take, however slowly a server trickles its answer.
PUSH_REQUEST_DEADLINE_SECONDS = env.float("PUSH_REQUEST_DEADLINE_SECONDS", default=30.0)

SUPABASE_URL = env.str("SUPABASE_URL", default="")
# An sb_secret_ key, sent as `apikey` only; SUPABASE_SERVICE_ROLE_KEY is the legacy JWT.
SUPABASE_SECRET_KEY = env.str("SUPABASE_SECRET_KEY", default="")
SUPABASE_SERVICE_ROLE_KEY = env.str("SUPABASE_SERVICE_ROLE_KEY", default="")
SUPABASE_FUNCTION_NAME = env.str("SUPABASE_FUNCTION_NAME", default="dispatch-scenario-prompt")

# --- Mentor app API (/api/v1/) ---------------------------------------------
# The app's Supabase access tokens are checked against SUPABASE_URL's key set;
# the legacy shared secret (HS256) is accepted only when it is given here.
SUPABASE_JWT_SECRET = env.str("SUPABASE_JWT_SECRET", default="")
SUPABASE_JWKS_CACHE_SECONDS = env.int("SUPABASE_JWKS_CACHE_SECONDS", default=600)
# Requests per mentor, and requests that fail to authenticate per client address.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="120/m")
API_AUTH_FAILURE_RATE = env.str("API_AUTH_FAILURE_RATE", default="30/m")
# Where both are counted: per process by default; dbcache:// (or redis://) shares
# the counts between every web process and machine.
API_THROTTLE_CACHE_URL = env.str("API_THROTTLE_CACHE_URL", default="locmemcache://api-throttle")


def _throttle_cache(url: str) -> dict:
    config = environ.Env.cache_url_config(url)
    if config["BACKEND"] == "django.core.cache.backends.db.DatabaseCache":
        # Django's incr may lose counts between processes; this one locks the row.
        config["BACKEND"] = "scheduler.api.shared_cache.DatabaseCache"
        # Django culls a third of the counters past 300 keys; expired ones go first.
        config.setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 5000)
    return config


CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # `migrate` creates a database cache's table (scheduler.apps).
    "api-throttle": _throttle_cache(API_THROTTLE_CACHE_URL),
}

FCM_PROJECT_ID = env.str("FCM_PROJECT_ID", default="")
FCM_CREDENTIALS_FILE = env.str("FCM_CREDENTIALS_FILE", default="")
FCM_API_URL = env.str("FCM_API_URL", default="https://fcm.googleapis.com")

# --- Dispatch -------------------------------------------------------------
DISPATCH_CONCURRENCY = env.int("DISPATCH_CONCURRENCY", default=16)
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=200)
DISPATCH_MAX_ATTEMPTS = env.int("DISPATCH_MAX_ATTEMPTS", default=5)
DISPATCH_RETRY_BASE_SECONDS = env.int("DISPATCH_RETRY_BASE_SECONDS", default=60)
DISPATCH_RETRY_MAX_SECONDS = env.int("DISPATCH_RETRY_MAX_SECONDS", default=6 * 3600)
DISPATCH_STALE_CLAIM_SECONDS = env.int("DISPATCH_STALE_CLAIM_SECONDS", default=900)
# A live run renews its lease every third of this; past it, other runs take over its claims.
DISPATCH_LEASE_SECONDS = env.int("DISPATCH_LEASE_SECONDS", default=30)
DISPATCH_RUN_DEADLINE_SECONDS = env.int("DISPATCH_RUN_DEADLINE_SECONDS", default=240)
DISPATCH_INTERVAL_MINUTES = env.int("DISPATCH_INTERVAL_MINUTES", default=5)
# Each scheduled tick is this many runs, each over the mentors with id % DISPATCH_SHARDS = i.
DISPATCH_SHARDS = env.int("DISPATCH_SHARDS", default=1)
# Dispatch runs older than this are deleted after a run; their prompts stay.
DISPATCH_RUN_RETENTION_DAYS = env.int("DISPATCH_RUN_RETENTION_DAYS", default=90)
# The admin's "run now" hands the run to the cluster; off, it runs inside the request.
DISPATCH_RUN_NOW_IN_BACKGROUND = env.bool("DISPATCH_RUN_NOW_IN_BACKGROUND", default=True)
# Whom coordinators should tell when sending has stopped (a name, a phone number, an address).
SUPPORT_CONTACT = env.str("SUPPORT_CONTACT", default="")


def _parse_quiet_hours(value: str) -> tuple[time, time] | None:
    if not value.strip():
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ImproperlyConfigured(
            f"QUIET_HOURS must look like 21:00-08:00 (local time), got {value!r}."
        ) from None
    if start == end:
        raise ImproperlyConfigured("QUIET_HOURS start and end must differ.")
    return start, end


QUIET_HOURS = _parse_quiet_hours(env.str("QUIET_HOURS", default=""))
MAX_PROMPTS_PER_MENTOR_PER_DAY = env.int("MAX_PROMPTS_PER_MENTOR_PER_DAY", default=0)
# --- Escalation and email ---------------------------------------------------
# A concern whose escalation moment is older than this is never escalated: switching
# escalation on does not flood coordinators with old history.
ESCALATION_LOOKBACK_DAYS = env.int("ESCALATION_LOOKBACK_DAYS", default=14)
# Links in coordinators' emails start with this (scheme and host of the admin).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
# EMAIL_URL (smtp+tls://user:password@host:587) sets the backend and the EMAIL_HOST* family
# at once; otherwise they are read one by one. Development prints emails on stderr.
_email = env.email_url("EMAIL_URL") if env.str("EMAIL_URL", default="") else {}
EMAIL_BACKEND = _email.get("EMAIL_BACKEND") or env.str(
    "EMAIL_BACKEND",
    default="scheduler.escalation.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = _email.get("EMAIL_HOST") or env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = _email.get("EMAIL_PORT") or env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or env.str(
    "EMAIL_HOST_PASSWORD", default=""
)
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS") or env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL") or env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# The file-based backend writes each run's emails to a file in this folder.
EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH") or env.str(
    "EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-emails")
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="scheduler@localhost")
if ESCALATION_LOOKBACK_DAYS < 1:
    raise ImproperlyConfigured("ESCALATION_LOOKBACK_DAYS must be 1 or more.")

# --- Coordinator report and health ----------------------------------------
# A mentor's activity for the prompted contact this many days after the prompt counts as follow-up.
FOLLOW_UP_WINDOW_DAYS = env.int("FOLLOW_UP_WINDOW_DAYS", default=7)
# Dead man's switch (healthchecks.io style): each run pings <url>/start, <url> or <url>/fail.
HEALTHCHECK_PING_URL = env.str("HEALTHCHECK_PING_URL", default="").rstrip("/")
HEALTHCHECK_PING_TIMEOUT_SECONDS = env.float("HEALTHCHECK_PING_TIMEOUT_SECONDS", default=3.0)
# Prometheus /metrics: 404 unless enabled; open to these addresses or the bearer token.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus_client reads this from the environment itself (multiprocess mode when set).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# Probes talk plain HTTP to the pod or socket; the TLS redirect would answer them 301.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
if MAX_PROMPTS_PER_MENTOR_PER_DAY < 0:
    raise ImproperlyConfigured("MAX_PROMPTS_PER_MENTOR_PER_DAY must be 0 (no cap) or more.")

# django-q2: the ORM broker needs no extra service. A task may run for
# `timeout` seconds; `retry` is well above it so a task still running is never
# handed to a second worker, and missed schedules are not replayed in a flood.
_TASK_TIMEOUT = DISPATCH_RUN_DEADLINE_SECONDS + 60
Q_CLUSTER = {
    "name": "scheduler",
    "orm": "default",
    # Several clusters may share the database: a task waits there until a cluster
    # has a free worker, instead of in a busy cluster's own queue.
    "broker_class": "scheduler.queue_broker.FreeWorkerORM",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": _TASK_TIMEOUT,
    "retry": _TASK_TIMEOUT * 2,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
    "poll": 1,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes announces itself at every start and logs every login at INFO; a
    # command's stderr and the development terminal are for the project's own lines.
    # Lockouts (WARNING) still show; LOG_LEVEL=DEBUG shows the rest.
    "loggers": {
        # Django's own console handler would print its lines a second time
        # ("Watching for file changes" twice): the root handler has them already.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "axes": {
            "level": "DEBUG" if env.str("LOG_LEVEL", default="INFO") == "DEBUG" else "WARNING"
        },
    },
}
