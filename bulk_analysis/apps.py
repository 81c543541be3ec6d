from django.apps import AppConfig


class BulkAnalysisConfig(AppConfig):
    name = "bulk_analysis"
