from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """Roles are Django groups of these names; a user may hold several."""

    ASTRONOMER = "astronomer", "Astronomer"
    REVIEWER = "reviewer", "Reviewer"
    OPERATOR = "operator", "Night operator"
    STAFF = "staff", "Observatory staff"


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    institute = models.CharField(max_length=300, blank=True)
    country = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.institute})"
