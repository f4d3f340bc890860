"""Celery tasks (to be written)."""
