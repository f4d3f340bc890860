"""Role checks shared by pages and the API."""

from django.contrib.auth.models import AnonymousUser, User

from dataflow.accounts.models import Role


def user_roles(user: User | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached |= {Role.STAFF.value}
        user._role_names = cached  # type: ignore[union-attr]
    return cached


def is_staff_member(user: User | AnonymousUser) -> bool:
    return Role.STAFF.value in user_roles(user)
