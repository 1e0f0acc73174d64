"""WSGI entry point for gunicorn in production: `gunicorn steward.wsgi:app`."""

from steward.app import create_app

app = create_app()
