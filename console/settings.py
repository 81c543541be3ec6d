"""Settings for the Custom Moderation console, read from environment variables.

With no environment at all this is the embedded default: SQLite, files on local
disk under DATA_DIR, Celery on the filesystem:// transport, the local backend.
Every variable is listed in README.md.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    # The embedded default keeps a generated key in the data folder, so sessions and
    # encrypted API secrets survive a restart without anyone setting a variable.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_str("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "console",
    "webhooks",
    "exports",
    "projects",
    "adapters",
    "hashbanks",
    "bulk_analysis",
    "verification",
    "quality",
    "rekognition_api",
]

MIDDLEWARE = [
    "console.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page requires login unless its view is marked login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.views.shell_context",
            ],
        },
    },
]


def _database(url: str) -> dict:
    parsed = urlparse(url)
    if not url or parsed.scheme == "sqlite":
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": parsed.path if url else DATA_DIR / "console.sqlite3",
            # A file, not memory, so that a test's Celery worker process sees the test database.
            "TEST": {"NAME": DATA_DIR / "test.sqlite3"},
            # The web server and the worker write at the same time: WAL, a busy
            # timeout and immediate transactions keep "database is locked" away. A large
            # database is read through a memory map and a 64 MiB page cache (SQLite's default
            # is 2 MiB): a request after a big read still finds the small tables it reads.
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA cache_size=-65536; PRAGMA mmap_size=1073741824;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgres:// or sqlite:/// URL, not {url!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parsed.path.lstrip("/"),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": parsed.port or "",
        "CONN_MAX_AGE": 60,
    }


DATABASES = {"default": _database(env_str("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console-home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Files: local disk under DATA_DIR by default, or S3 through django-storages.
STORAGE_BACKEND = env_choice("STORAGE_BACKEND", "local", ("local", "s3"))
AWS_REGION = env_str("AWS_REGION", "us-east-1")
AWS_ACCOUNT_ID = env_str("AWS_ACCOUNT_ID", "000000000000")
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
AWS_REKOGNITION_ENDPOINT_URL = env_str("AWS_REKOGNITION_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = AWS_REGION
AWS_DEFAULT_ACL = None
AWS_S3_FILE_OVERWRITE = False
# With files on local disk, manifests and S3Object fields name this virtual bucket.
LOCAL_BUCKET = env_str("LOCAL_BUCKET", "console-local")
MEDIA_ROOT = DATA_DIR / "files"

if STORAGE_BACKEND == "s3":
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME")
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
    STORAGE_BUCKET = AWS_STORAGE_BUCKET_NAME
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
    STORAGE_BUCKET = LOCAL_BUCKET
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}
    if not DEBUG
    else {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Files served at the site's root, before any URL pattern or login check: browsers ask every site
# for /favicon.ico.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

# Moderation backend: the offline local engine, or Amazon Rekognition.
MODERATION_BACKEND = env_choice("MODERATION_BACKEND", "local", ("local", "aws"))
LOCAL_ENGINE_THREADS = env_int("LOCAL_ENGINE_THREADS", 2)
# 8.x: the four networks of base model v2; 7.x: v1 (NudeNet and open_nsfw) for adapters that must not change.
LOCAL_MODEL_VERSION = env_str("LOCAL_MODEL_VERSION", "8.0")
# NudeNet's model file is AGPL-3.0: false runs v2 without it (README, "Model files and their licences").
LOCAL_ENGINE_NUDENET = env_bool("LOCAL_ENGINE_NUDENET", True)
# false: every network in float32 (int8 runs the networks that keep their answers quantized).
LOCAL_ENGINE_INT8 = env_bool("LOCAL_ENGINE_INT8", True)
# The URL shown in the Use adapter snippets for the Rekognition-compatible API.
CONSOLE_API_URL = env_str("CONSOLE_API_URL", "http://127.0.0.1:8000/rekognition/")

# Celery: the filesystem:// transport needs no server; a Redis URL for more machines.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = DATA_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    # Longer than the longest task's time limit (a training: adapters.tasks.TRAINING_TIME_LIMIT,
    # 1 h), so Redis never hands a running task to a second worker; a task whose worker was
    # killed comes back after it (acks_late), or sooner through its lease (console.leases).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
# The cache holds the API's per-key request counts: shared through Redis when there is one,
# so several web processes count together; one process's memory on the embedded default.
CACHE_URL = env_str("CACHE_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CELERY_TASK_IGNORE_RESULT = True  # the database row is each job's truth, never the result backend
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Two kinds of work on their own queues, so a 10,000-image job does not hold back a training; a
# worker started without -Q consumes every queue here (README, "Workers and queues").
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Every task has a time limit: these for a task that sets none (a library's). Each of ours sets
# its own, and one that owns a row (a training, a unit, an export, a delivery) handles
# SoftTimeLimitExceeded by failing or requeuing that row.
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_QUEUES = {"celery": {}, "training": {}, "bulk": {}}
CELERY_TASK_ROUTES = {
    "adapters.tasks.train_adapter": {"queue": "training"},
    "adapters.tasks.poll_adapter_training": {"queue": "training"},
    "bulk_analysis.tasks.run_job": {"queue": "bulk"},
    "bulk_analysis.tasks.run_unit": {"queue": "bulk"},
    "bulk_analysis.tasks.poll_job": {"queue": "bulk"},
}
# A worker renews the lease of the unit or training it runs every quarter of this; work whose
# lease ran out is taken over by the check every WORK_LEASE_CHECK_SECONDS (console.leases).
WORK_LEASE_SECONDS = env_int("WORK_LEASE_SECONDS", 20)
WORK_LEASE_CHECK_SECONDS = env_int("WORK_LEASE_CHECK_SECONDS", 10)

# E-mail for notifications: printed to the console unless an SMTP host is set.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "moderation-console@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# Uploads: the browser sends 30 (training) or 50 (bulk) files per request.
DATA_UPLOAD_MAX_NUMBER_FILES = 60
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 60 * 1024 * 1024
# Any request body (a batch of images, a 50 MB manifest) is refused above this, before it is read.
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_MB", 256) * 1024 * 1024
# Sign-in: this many failures for one user name or address within the window locks sign-in.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
# Behind a reverse proxy every request comes from the proxy: count sign-in failures by the
# address it appends to X-Forwarded-For instead. Only turn this on behind a proxy that sets it.
TRUST_X_FORWARDED_FOR = env_bool("DJANGO_TRUST_X_FORWARDED_FOR", False)


def _role_groups(value: str) -> dict[str, str]:
    """OIDC_ROLE_GROUPS: comma-separated group=role pairs, e.g. "console-admins=admin,moderators=manager"."""
    roles = ("viewer", "annotator", "manager", "admin")
    mapping = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        group, sep, role = pair.rpartition("=")
        if not sep or not group.strip() or role.strip() not in roles:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_GROUPS: {pair!r} must be group=role, the role one of {', '.join(roles)}"
            )
        mapping[group.strip()] = role.strip()
    return mapping


# Sign-in with an OpenID Connect provider (console/oidc.py, mozilla-django-oidc), besides or
# instead of local accounts. On when OIDC_ISSUER and OIDC_CLIENT_ID are set; the endpoints come
# from the issuer's discovery document unless set here.
OIDC_ISSUER = env_str("OIDC_ISSUER").rstrip("/")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = env_str("OIDC_SIGN_ALGORITHM", "RS256")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_USERINFO_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_JWKS_ENDPOINT")
OIDC_RP_IDP_SIGN_KEY = None  # the provider's keys come from its JWKS endpoint
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")  # "Sign in with <name>"
# The claim that lists a person's groups (a dotted path reaches into nested claims), and the
# console role each group gives; the highest wins. No mapped group: OIDC_DEFAULT_ROLE ("none" refuses).
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_GROUPS = _role_groups(env_str("OIDC_ROLE_GROUPS"))
OIDC_DEFAULT_ROLE = env_choice(
    "OIDC_DEFAULT_ROLE", "viewer", ("viewer", "annotator", "manager", "admin", "none")
)
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10)
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
LOGIN_REDIRECT_URL_FAILURE = "login"
# Off: no password signs anyone in (the console's login page offers only the provider, and the
# Django admin's login form refuses passwords too).
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
if not LOCAL_LOGIN and not (OIDC_ISSUER and OIDC_RP_CLIENT_ID):
    raise ImproperlyConfigured("LOCAL_LOGIN=false needs OIDC_ISSUER and OIDC_CLIENT_ID: nobody could sign in")
AUTHENTICATION_BACKENDS = ["console.oidc.PasswordBackend", "console.oidc.ProviderBackend"]

# Production: behind TLS, secure cookies and headers (python manage.py check --deploy).
SECURE = env_bool("DJANGO_SECURE", False)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE and env_bool("DJANGO_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"


def _not_kombu_default_hostname(record) -> bool:
    # kombu warns "No hostname was supplied. Reverting to default 'localhost'" on every connection
    # to a URL without a host; the filesystem:// broker has no host to give: nothing to act on.
    return not record.getMessage().startswith("No hostname was supplied")


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "kombu_default_hostname": {
            "()": "django.utils.log.CallbackFilter",
            "callback": _not_kombu_default_hostname,
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"kombu.connection": {"filters": ["kombu_default_hostname"]}}
    if CELERY_BROKER_URL == "filesystem://"
    else {},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Periodic work (celery beat): trainings whose worker died, and base model version changes.
CELERY_BEAT_SCHEDULE = {
    # The console shell shows when a worker last answered (console.tasks.heartbeat).
    "console-heartbeat": {"task": "console.tasks.heartbeat", "schedule": 60.0},
    "adapters-fail-stale-trainings": {"task": "adapters.tasks.fail_stale_trainings", "schedule": 10 * 60.0},
    "adapters-check-base-model-versions": {
        "task": "adapters.tasks.check_base_model_versions",
        "schedule": 6 * 60 * 60.0,
    },
    # Bulk jobs whose units were lost with a killed worker (bulk_analysis.services.STALL_SECONDS).
    "bulk-resume-stalled-jobs": {"task": "bulk_analysis.tasks.resume_stalled_jobs", "schedule": 60.0},
    # Units and trainings whose worker's lease ran out (console.leases).
    "bulk-resume-lost-units": {
        "task": "bulk_analysis.tasks.resume_lost_units",
        "schedule": float(WORK_LEASE_CHECK_SECONDS),
    },
    "adapters-resume-lost-trainings": {
        "task": "adapters.tasks.resume_lost_trainings",
        "schedule": float(WORK_LEASE_CHECK_SECONDS),
    },
    "quality-resume-lost-prelabels": {
        "task": "quality.tasks.resume_lost_prelabels",
        "schedule": float(WORK_LEASE_CHECK_SECONDS),
    },
    "quality-fail-lost-label-checks": {
        "task": "quality.tasks.fail_lost_label_checks",
        "schedule": float(WORK_LEASE_CHECK_SECONDS),
    },
    # Finished exports older than a week, and exports whose worker died (exports.services.clean_up).
    "exports-clean-up": {"task": "exports.tasks.clean_up_exports", "schedule": 60 * 60.0},
}

# Webhooks (webhooks/): deliveries go only to public addresses unless this is on (a receiver on
# the same private network); link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
# fd00::/8) never. Failed attempts are retried after 1x, 2x, 4x... this many seconds.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", False)
WEBHOOKS_RETRY_BASE_SECONDS = env_int("WEBHOOKS_RETRY_BASE_SECONDS", 30)
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10)

# Hash banks (hashbanks/): hashes of a PDQ quality below this (0-100) are refused with the reason:
# flat or plain images, whose hash says little about them (HMA refuses below 50 too).
HASHBANKS_MIN_QUALITY = env_int("HASHBANKS_MIN_QUALITY", 50)

# Exports (exports/): a dataset manifest of more labeled images than this is written by the worker
# (progress, then a download link) instead of in the request; this many take about 0.6 s (make bench).
EXPORTS_INLINE_MAX_IMAGES = env_int("EXPORTS_INLINE_MAX_IMAGES", 10_000)

# Rekognition-compatible API (/rekognition/). S3Object fields and manifests name files as
# (STORAGE_BUCKET, key): the S3 bucket with S3 storage, else the virtual bucket LOCAL_BUCKET,
# whose keys are names in the data folder (DATA_DIR/files).
# A signed request must be dated within this many seconds of the server's clock (AWS: 5 minutes).
API_SIGNATURE_WINDOW_SECONDS = env_int("API_SIGNATURE_WINDOW_SECONDS", 300)
# Requests per access key per minute; more are answered ThrottlingException. The count lives in
# Django's cache (per process unless a shared cache is configured).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)
