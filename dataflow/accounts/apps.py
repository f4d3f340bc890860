from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dataflow.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"
