"""Jindu settings, driven by the environment.

Embedded default: SQLite under ``$JINDU_VAR_DIR`` (``./var``) in WAL mode, no broker (Celery tasks run
in-process), a local-memory cache. Production: ``DATABASE_URL=postgres://…``, ``JINDU_BROKER_URL=redis://…``.
Secrets come from the environment or from the key file outside the database (see ``jindu.core.keyring``).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from jindu.core.keyring import Keyring, KeyringError, load_keyring


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


PACKAGE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("JINDU_VAR_DIR") or (Path.cwd() / "var")).resolve()
KEY_FILE = Path(os.environ.get("JINDU_KEY_FILE") or (VAR_DIR / "keys.json")).resolve()
SQLITE_PATH = VAR_DIR / "jindu.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()

# A new embedded installation (no DATABASE_URL, no database file yet) gets fresh keys; anything else must
# already have them, because new keys over an existing database would make its ciphertexts unreadable.
_may_create_keys = not DATABASE_URL and not SQLITE_PATH.exists()
try:
    _loaded_keyring = load_keyring(KEY_FILE, create=_may_create_keys)
except KeyringError as error:
    raise ImproperlyConfigured(f"Jindu keys: {error}") from None
if _loaded_keyring is None:
    raise ImproperlyConfigured(
        f"Jindu keys not found: set JINDU_SECRET_KEY, JINDU_DATA_KEYS, JINDU_BLIND_INDEX_KEY and JINDU_AUDIT_KEY, "
        f"or provide the key file {KEY_FILE} (`jindu keys init` writes one; back it up apart from the database)."
    )

JINDU_KEYRING: Keyring = _loaded_keyring
SECRET_KEY = JINDU_KEYRING.secret_key
DEBUG = env_bool("JINDU_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("JINDU_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("JINDU_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tables2",
    "django_filters",
    "jindu.core",
    "jindu.people",
    "jindu.precursors",
    "jindu.wastewater",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "jindu.core.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "jindu.core.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "jindu.config.urls"
WSGI_APPLICATION = "jindu.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jindu.core.navigation.navigation",
            ]
        },
    }
]

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # IMMEDIATE: every transaction takes the write lock up front, which keeps the audit chain
                # linear and avoids "database is locked" upgrades under concurrent writers.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = ["jindu.core.auth.JinduModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:workbench"

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("JINDU_HTTPS", False)
JINDU_SESSION_MAX_SECONDS = env_int("JINDU_SESSION_MAX_SECONDS", 8 * 60 * 60)  # a working day at most
SESSION_COOKIE_AGE = JINDU_SESSION_MAX_SECONDS
if SESSION_COOKIE_SECURE:
    SECURE_HSTS_SECONDS = env_int("JINDU_HSTS_SECONDS", 31536000)
if SESSION_COOKIE_SECURE and env_int("JINDU_TRUSTED_PROXY_COUNT", 0) > 0:
    # Only a trusted reverse proxy may tell us the original request was HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
OTP_TOTP_ISSUER = "Jindu"

# Jindu security policy (等保 2.0: 身份鉴别 / 访问控制); every number is configurable per deployment.
JINDU_IDLE_TIMEOUT_SECONDS = env_int("JINDU_IDLE_TIMEOUT_SECONDS", 30 * 60)
JINDU_LOCKOUT_FAILURES = env_int("JINDU_LOCKOUT_FAILURES", 5)
JINDU_LOCKOUT_WINDOW_SECONDS = env_int("JINDU_LOCKOUT_WINDOW_SECONDS", 15 * 60)
JINDU_LOCKOUT_SECONDS = env_int("JINDU_LOCKOUT_SECONDS", 15 * 60)
JINDU_BREAK_GLASS_SECONDS = env_int("JINDU_BREAK_GLASS_SECONDS", 3 * 60 * 60)
JINDU_API_TOKEN_SECONDS = env_int("JINDU_API_TOKEN_SECONDS", 8 * 60 * 60)
JINDU_AUTH_RATE_LIMIT = env_int("JINDU_AUTH_RATE_LIMIT", 20)  # token requests per client address per minute
JINDU_TRUSTED_PROXY_COUNT = env_int("JINDU_TRUSTED_PROXY_COUNT", 0)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("JINDU_STATIC_ROOT") or (VAR_DIR / "static"))
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# The embedded server serves static files straight from the package; production runs collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

JINDU_REDIS_URL = os.environ.get("JINDU_REDIS_URL", "").strip()
if JINDU_REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": JINDU_REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "jindu"}}

# Celery: with no broker the tasks run eagerly in-process (embedded default), with a broker on workers.
JINDU_BROKER_URL = os.environ.get("JINDU_BROKER_URL", "").strip()
CELERY_BROKER_URL = JINDU_BROKER_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not JINDU_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict = {
    "audit-chain-verify-nightly": {"task": "jindu.core.tasks.verify_audit_chain", "schedule": 24 * 60 * 60},
    "expire-api-tokens-hourly": {"task": "jindu.core.tasks.purge_expired_tokens", "schedule": 60 * 60},
    # Schedules, 脱管 and eligibility of everyone, shortly after midnight (CELERY_TIMEZONE).
    "people-evaluation-nightly": {
        "task": "jindu.people.tasks.evaluate_everyone",
        "schedule": crontab(hour=0, minute=30),
    },
    # Diversion warnings over yesterday's ledgers, after the people run.
    "precursors-warnings-nightly": {
        "task": "jindu.precursors.tasks.run_diversion_warnings",
        "schedule": crontab(hour=1, minute=0),
    },
    # Wastewater anomaly flags over the last window of every site, after the precursors run.
    "wastewater-anomalies-nightly": {
        "task": "jindu.wastewater.tasks.run_anomalies_nightly",
        "schedule": crontab(hour=1, minute=30),
    },
    # 禁毒信用 of every firm, on the first of the month.
    "precursors-credit-monthly": {
        "task": "jindu.precursors.tasks.rate_everyone",
        "schedule": crontab(day_of_month=1, hour=2, minute=0),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("JINDU_LOG_LEVEL", "WARNING")},
}

NINJA_PAGINATION_PER_PAGE = 50
