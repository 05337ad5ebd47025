from django.apps import AppConfig


class FastpushConfig(AppConfig):
    name = "fastpush_django"
    verbose_name = "fastpush"
