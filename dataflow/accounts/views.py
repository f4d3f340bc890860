from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken

from dataflow.accounts.forms import ProfileForm
from dataflow.accounts.models import Profile
from dataflow.accounts.services import profile_update, token_rotate


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
