"""A real OpenID Connect provider for the sign-in tests: django-oidc-provider in its own Django
process, with its own SQLite database in OIDC_PROVIDER_DIR (tests/console/test_oidc.py starts it).

Not the console's settings: nothing here is imported by the console or by pytest's process.
"""

import os
from pathlib import Path

DATA = Path(os.environ["OIDC_PROVIDER_DIR"])
SECRET_KEY = "test-provider-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
    "tests.identity_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.identity_provider.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA / "provider.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
# The console and the provider both run on 127.0.0.1: distinct cookie names keep their sessions apart.
SESSION_COOKIE_NAME = "provider_sessionid"
CSRF_COOKIE_NAME = "provider_csrftoken"
LOGIN_URL = "/login/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # test users only
SITE_URL = os.environ["OIDC_PROVIDER_URL"]  # the issuer is SITE_URL + "/openid"
OIDC_USERINFO = "tests.identity_provider.claims.userinfo"
OIDC_EXTRA_SCOPE_CLAIMS = "tests.identity_provider.claims.GroupClaims"
