"""Who is asking: a VO client sends the project's API token as ``Authorization: Bearer``.

A browser's session counts for reads (GET, HEAD: a download link clicked on a page); VO POSTs
carry no CSRF token, so they authenticate by token only and are anonymous otherwise.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed

from dataflow.accounts.auth import BearerTokenAuthentication
from dataflow.permissions import AnyUser


class BadCredentials(Exception):
    """A token was sent and is not valid: 401, never silently anonymous."""


def vo_user(request: HttpRequest) -> AnyUser:
    header = request.headers.get("Authorization", "")
    keyword, _, key = header.partition(" ")
    if keyword == BearerTokenAuthentication.keyword:
        try:
            user, _token = BearerTokenAuthentication().authenticate_credentials(key.strip())
        except AuthenticationFailed as failure:
            raise BadCredentials(str(failure.detail)) from failure
        return user
    if request.method in {"GET", "HEAD"} and request.user.is_authenticated:
        return request.user
    return AnonymousUser()
