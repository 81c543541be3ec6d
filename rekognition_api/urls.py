from django.urls import path

from rekognition_api import keys, views

urlpatterns = [
    path("api-keys/", keys.list_keys, name="console-api-keys"),
    path("api-keys/new/", keys.create_key, name="console-api-keys-create"),
    path("api-keys/<int:pk>/revoke/", keys.revoke_key, name="console-api-keys-revoke"),
    # The Rekognition-compatible API: boto3 posts to the endpoint URL as given, with or without "/".
    path("rekognition/", views.rekognition, name="api-rekognition"),
    path("rekognition", views.rekognition, name="api-rekognition-noslash"),
]
