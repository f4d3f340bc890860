from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken

from dataflow.accounts.forms import ProfileForm, SignupForm
from dataflow.accounts.models import Profile, Role
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
    user = request.user
    prof, _ = Profile.objects.get_or_create(user=user)
    if request.method == "POST" and "rotate_token" in request.POST:
        token_rotate(user=user)
        messages.success(request, "A new API token was issued; the old one no longer works.")
        return redirect("profile")
    form = ProfileForm(
        request.POST or None,
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "institute": prof.institute,
            "country": prof.country,
        },
    )
    if request.method == "POST" and form.is_valid():
        profile_update(user=user, **form.cleaned_data)
        messages.success(request, "Profile saved.")
        return redirect("profile")
    token = Token.objects.filter(user=user).first()
    return render(request, "accounts/profile.html", {"form": form, "token": token})


class ApiTokenView(ObtainAuthToken):
    """POST username and password, get the API token to send as ``Authorization: Bearer``."""
