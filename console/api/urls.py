from django.urls import path

from console.api import keys

# The Rekognition-compatible endpoint is added by the API issue; the API keys pages live here.
urlpatterns = [
    path("api-keys/", keys.list_keys, name="console-api-keys"),
]
