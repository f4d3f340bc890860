"""Reads of accounts shaped for the pages and the API."""

from dataclasses import dataclass

from django.contrib.auth.models import User

from dataflow.accounts.models import Profile, Role
from dataflow.permissions import user_roles


@dataclass(frozen=True)
class ProfileDetails:
    """What a user sees of their own account; ``roles`` in the order ``Role`` declares them."""

    username: str
    email: str
    first_name: str
    last_name: str
    institute: str
    country: str
    roles: tuple[str, ...]


def profile_details(*, user_id: int) -> ProfileDetails:
    """The user's account as stored now (two queries); no profile row reads as empty fields."""
    user = User.objects.select_related("profile").get(pk=user_id)
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        profile = Profile(user=user)  # users made outside the services (createsuperuser)
    held = user_roles(user)
    return ProfileDetails(
        username=user.username,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        institute=profile.institute,
        country=profile.country,
        roles=tuple(role.value for role in Role if role.value in held),
    )
