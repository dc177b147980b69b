"""The WSGI entry point: gunicorn -c deploy/gunicorn.conf.py wsgi:app."""

from counter import create_app

app = create_app()
