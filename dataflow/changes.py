"""Partial updates of a model instance, shared by the write services of every app."""

from typing import Any

from django.db import models


def set_changed(obj: models.Model, values: dict[str, Any]) -> list[str]:
    """Set ``values`` on ``obj``; return the names whose value differs from the stored one
    (what to save, bump and record; an unchanged write saves nothing)."""
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed
