"""WSGI entry point for mod_wsgi (WSGIScriptAlias / .../notify_site/wsgi.py).

DJANGO_SETTINGS_MODULE may be set before this file runs (a deployment's
own settings module that imports notify_site.settings)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notify_site.settings")
application = get_wsgi_application()
