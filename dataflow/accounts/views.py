from typing import cast

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework.authtoken.models import Token

from dataflow.accounts.forms import ProfileForm, SignupForm
from dataflow.accounts.models import Role
from dataflow.accounts.selectors import profile_details
from dataflow.accounts.services import profile_update, token_rotate, user_create


def signup(request: HttpRequest) -> HttpResponse:
    """Create an astronomer account (e.g. to accept an invitation as co-investigator)."""
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_create(roles=[Role.ASTRONOMER], **form.cleaned_data)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Your astronomer account is ready.")
        target = request.GET.get("next", "")
        if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            return redirect(target)
        return redirect("proposals:mine")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)  # login_required
    if request.method == "POST" and "rotate_token" in request.POST:
        token_rotate(user=user)
        messages.success(request, "A new API token was issued; the old one no longer works.")
        return redirect("profile")
    details = profile_details(user_id=user.pk)
    form = ProfileForm(
        request.POST or None,
        initial={
            "first_name": details.first_name,
            "last_name": details.last_name,
            "institute": details.institute,
            "country": details.country,
        },
    )
    if request.method == "POST" and form.is_valid():
        profile_update(
            user_id=user.pk,
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            institute=form.cleaned_data["institute"],
            country=form.cleaned_data["country"],
        )
        messages.success(request, "Profile saved.")
        return redirect("profile")
    token = Token.objects.filter(user=user).first()
    return render(request, "accounts/profile.html", {"form": form, "token": token})
