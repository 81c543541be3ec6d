from django.apps import AppConfig


class HashbanksConfig(AppConfig):
    name = "hashbanks"
    verbose_name = "Hash banks"
