"""Review pages under /review/: the reviewers' (urls_reviewer) and the chairs' and staff's
(urls_staff)."""

from proposals.review.urls_reviewer import urlpatterns as reviewer_urls
from proposals.review.urls_staff import urlpatterns as staff_urls

app_name = "review"

urlpatterns = [*reviewer_urls, *staff_urls]
