"""Settings of the example notifications site.

A deployment copies these and changes SECRET_KEY, DATABASES, ALLOWED_HOSTS
and the FASTPUSH_* paths; tests/e2e/test_django.py imports this module
and overrides the paths for its run.  The FASTPUSH_* block is the part
that matters here: docs/django.md explains each setting.
"""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET_KEY = "change-me: the example's key, not for production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "fastpush_django",
    "notifications",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "notify_site.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
    ]},
}]
WSGI_APPLICATION = "notify_site.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.path.join(BASE_DIR, "db.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "static")   # manage.py collectstatic; Apache serves it
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "loggers": {"notifications": {"handlers": ["console"], "level": "INFO"}}}

# ------------------------------------------------------------ fastpush
# the broker's sockets (its `control` and `ingest` directives)
FASTPUSH_CONTROL = "tcp://127.0.0.1:7401"
FASTPUSH_INGEST = "tcp://127.0.0.1:7400"
# the HS256 secret: the same file as fastpush-sse's `jwt-key`
FASTPUSH_JWT_KEY_FILE = "/etc/fastpush/jwt.key"
FASTPUSH_JWT_ALG = "HS256"
FASTPUSH_USER_CHANNEL = "user.{id}"
FASTPUSH_SSE_PREFIX = "/events"
FASTPUSH_HEARTBEAT = 30                  # s: fastpush-sse `heartbeat 30s`
FASTPUSH_STREAM_LIFETIME = 300           # s: a token's lifetime; the stream ends with it
FASTPUSH_MAX_CONNECTIONS_PER_USER = 5    # fastpush-sse `max-user-connections 5`
FASTPUSH_TRANSPORTS = ["sse"]
