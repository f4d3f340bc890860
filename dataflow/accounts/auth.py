"""API tokens sent as ``Authorization: Bearer <token>`` (p2-style clients)."""

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"
