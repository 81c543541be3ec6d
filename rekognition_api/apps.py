from django.apps import AppConfig


class RekognitionApiConfig(AppConfig):
    name = "rekognition_api"
    verbose_name = "Rekognition-compatible API"
