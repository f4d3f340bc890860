"""Writes to accounts: users with roles, profiles, API tokens."""

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models, transaction
from rest_framework.authtoken.models import Token

from dataflow.accounts.models import Profile, Role
from dataflow.errors import InvalidInput


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
    password_hash: str | None = None,
) -> User:
    """Create a user with a profile and role groups. ``password_hash`` (from
    ``make_password``) replaces ``password`` where many accounts share one password: the demo's
    60 users would otherwise spend ~20 s in the deliberately slow hasher."""
    user = User.objects.create_user(
        username=username,
        email=email,
        password=None if password_hash else password,
        first_name=first_name,
        last_name=last_name,
    )
    if password_hash:
        user.password = password_hash
        user.save(update_fields=["password"])
    Profile.objects.create(user=user, institute=institute, country=country)
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
    return user


# What a user may change about themselves, and the model that stores each field.
PROFILE_FIELDS: dict[str, type[models.Model]] = {
    "first_name": User,
    "last_name": User,
    "institute": Profile,
    "country": Profile,
}


def char_max_length(model: type[models.Model], name: str) -> int:
    """The stored length limit of a text field, for the forms and serializers that take it."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.CharField) and field.max_length is not None
    return field.max_length


@transaction.atomic
def profile_update(
    *,
    user_id: int,
    first_name: str | None = None,
    last_name: str | None = None,
    institute: str | None = None,
    country: str | None = None,
) -> Profile:
    """Change a user's names, institute and country; a field left ``None`` keeps its value."""
    sent = {
        "first_name": first_name,
        "last_name": last_name,
        "institute": institute,
        "country": country,
    }
    changes = {name: value for name, value in sent.items() if value is not None}
    _check_profile_values(changes)
    # The change is merged with the rows as stored, under their locks (the user first, then
    # its profile, always in this order): a copy read earlier (the request's user, a client
    # that sends one field) cannot write back values someone changed in between.
    user = User.objects.select_for_update().get(pk=user_id)
    profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
    _save_changed(user, changes)
    _save_changed(profile, changes)
    return profile


def _save_changed(row: models.Model, changes: dict[str, str]) -> None:
    """Set the fields of ``changes`` stored on ``row`` that differ, and save only those."""
    changed = [
        name
        for name, value in changes.items()
        if PROFILE_FIELDS[name] is type(row) and getattr(row, name) != value
    ]
    for name in changed:
        setattr(row, name, changes[name])
    if changed:
        row.save(update_fields=changed)


def _check_profile_values(changes: dict[str, str]) -> None:
    """Refuse values the model cannot store (length, NUL characters), all fields at once."""
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        field = PROFILE_FIELDS[name]._meta.get_field(name)
        assert isinstance(field, models.CharField)
        try:
            field.clean(value, None)
            # PostgreSQL cannot store NUL in text (the model field does not check it).
            ProhibitNullCharactersValidator()(value)
        except ValidationError as error:
            errors[name] = list(error.messages)
    if errors:
        raise InvalidInput("Invalid input.", errors)


@transaction.atomic
def token_for(*, user: User) -> Token:
    """The user's API token, issued on first use."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


@transaction.atomic
def token_rotate(*, user: User) -> Token:
    """Replace the user's API token with a fresh one."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)
