from django import forms
from django.contrib.auth.models import User

from dataflow.accounts.models import Profile
from dataflow.accounts.services import char_max_length


class ProfileForm(forms.Form):
    """The page's profile change; ``profile_update`` checks and saves it, as for the API."""

    first_name = forms.CharField(max_length=char_max_length(User, "first_name"), required=False)
    last_name = forms.CharField(max_length=char_max_length(User, "last_name"), required=False)
    institute = forms.CharField(max_length=char_max_length(Profile, "institute"), required=False)
    country = forms.CharField(max_length=char_max_length(Profile, "country"), required=False)


class SignupForm(forms.Form):
    """A new astronomer's account; any Unicode institute."""

    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z", max_length=150, help_text="Letters, digits and @ . + - _ only."
    )
    email = forms.EmailField()
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    institute = forms.CharField(max_length=300)
    country = forms.CharField(max_length=100, required=False)
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)

    def clean_username(self) -> str:
        from django.contrib.auth.models import User

        username: str = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("This username is taken.")
        return username

    def clean_email(self) -> str:
        from django.contrib.auth.models import User

        email: str = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address exists: log in.")
        return email
