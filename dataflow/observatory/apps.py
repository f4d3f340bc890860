from django.apps import AppConfig


class ObservatoryConfig(AppConfig):
    name = "dataflow.observatory"
    label = "observatory"
    verbose_name = "Observatory configuration"
