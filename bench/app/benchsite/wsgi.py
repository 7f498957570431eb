"""WSGI entry point: the same app under gunicorn's gthread worker (the http_sync family's floor)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
application = get_wsgi_application()
