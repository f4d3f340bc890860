"""Writes to accounts: users with roles, profiles, API tokens."""

from django.contrib.auth.models import Group, User
from django.db import transaction
from rest_framework.authtoken.models import Token

from dataflow.accounts.models import Profile, Role


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str,
    roles: list[Role],
    first_name: str = "",
    last_name: str = "",
    institute: str = "",
    country: str = "",
) -> User:
    """Create a user with a profile and role groups."""
    user = User.objects.create_user(
        username=username,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
    )
    Profile.objects.create(user=user, institute=institute, country=country)
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
    return user


@transaction.atomic
def profile_update(
    *, user: User, first_name: str, last_name: str, institute: str, country: str
) -> Profile:
    """Change a user's name, institute and country."""
    user.first_name, user.last_name = first_name, last_name
    user.save(update_fields=["first_name", "last_name"])
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.institute, profile.country = institute, country
    profile.save()
    return profile


@transaction.atomic
def token_rotate(*, user: User) -> Token:
    """Replace the user's API token with a fresh one."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)
