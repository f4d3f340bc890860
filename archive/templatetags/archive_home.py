"""The astronomer's home card "Your data in the archive"."""

from typing import Any

from django import template

from archive import selectors

register = template.Library()


@register.inclusion_tag("archive/_home_card.html", takes_context=True)
def my_archive_data(context: template.Context) -> dict[str, Any]:
    """Files of the user's programmes (PI, co-investigator, delegate), how many still
    proprietary and the next release date (three queries)."""
    return {"summary": selectors.archive_summary(context["request"].user)}
