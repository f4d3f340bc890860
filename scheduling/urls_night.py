"""The night operators' pages under /night/ (namespace ``night``): the telescopes with their
running visit, each telescope's console (conditions, options, the ranking and the running
visit), the console's ranking as an HTML fragment, and its writes (a weather reading, start,
complete, abort). ``<telescope>`` is the telescope's id."""

from django.urls import URLPattern, path

from scheduling import views_night as views

app_name = "night"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("<int:telescope>/", views.console_page, name="console"),
    path("<int:telescope>/ranking/", views.ranking, name="ranking"),
    path("<int:telescope>/weather/", views.weather, name="weather"),
    path("<int:telescope>/start/", views.start, name="start"),
    path("<int:telescope>/complete/", views.complete, name="complete"),
    path("<int:telescope>/abort/", views.abort, name="abort"),
]
