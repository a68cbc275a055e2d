"""Project configuration. The Celery app is imported here so that shared tasks bind to it."""

from jindu.config.celery import app as celery_app

__all__ = ["celery_app"]
