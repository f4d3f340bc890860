"""Accounts: sign-up with Unicode institutes, the invitation flow, API tokens."""

from django.contrib.auth.models import User
from django.urls import reverse

from proposals import services
from proposals.models import CoInvestigator


def signup_data(**overrides: str) -> dict[str, str]:
    data = {
        "username": "liwei",
        "email": "li.wei@example.org",
        "first_name": "Wei",
        "last_name": "Li",
        "institute": "国家天文台",
        "country": "CN",
        "password": "a-long-password",
    }
    return {**data, **overrides}


def test_signup_creates_a_logged_in_astronomer_with_unicode_institute(client, db):
    # when
    response = client.post(reverse("signup"), signup_data())
    # then
    assert response.status_code == 302
    user = User.objects.get(username="liwei")
    assert user.profile.institute == "国家天文台"
    assert list(user.groups.values_list("name", flat=True)) == ["astronomer"]
    assert client.get(reverse("proposals:mine")).status_code == 200


def test_signup_refuses_a_taken_email_and_saves_nothing(client, astronomer):
    response = client.post(reverse("signup"), signup_data(email=astronomer.email.upper()))
    assert response.status_code == 200
    assert "An account with this e-mail address exists" in response.content.decode()
    assert not User.objects.filter(username="liwei").exists()


def test_signup_ignores_an_external_next(client, db):
    response = client.post(reverse("signup") + "?next=https://evil.example.com/", signup_data())
    assert response["Location"] == reverse("proposals:mine")


def test_invited_newcomer_signs_up_and_accepts(client, draft):
    # given an invitation to an address with no account yet
    coi = services.coi_add(proposal_id=draft.pk, actor=draft.pi, email="li.wei@example.org")
    accept = reverse("proposals:accept_invitation", args=[coi.invitation_token])
    # when the newcomer follows the link, signs up and accepts
    login_redirect = client.get(accept)
    assert login_redirect.status_code == 302 and "/accounts/login/" in login_redirect["Location"]
    signed_up = client.post(f"{reverse('signup')}?next={accept}", signup_data())
    assert signed_up["Location"] == accept
    client.post(accept)
    # then the co-investigator is linked and sees the proposal
    linked = CoInvestigator.objects.get(pk=coi.pk).user
    assert linked is not None and linked.username == "liwei"
    assert client.get(reverse("proposals:detail", args=[draft.pk])).status_code == 200


def test_profile_issues_an_api_token_that_authenticates_as_bearer(client, astronomer):
    client.force_login(astronomer)
    client.post(reverse("profile"), {"rotate_token": "1"})
    token = astronomer.auth_token.key
    api = client.__class__()
    response = api.get("/api/v1/proposals/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
