from django.http import HttpRequest

from dataflow.permissions import user_roles


def roles(request: HttpRequest) -> dict[str, frozenset[str]]:
    """Expose the user's role names to every template as ``roles``."""
    return {"roles": user_roles(request.user)}
