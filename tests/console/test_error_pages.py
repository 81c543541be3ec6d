"""Posts over Django's upload limits get a page that names the limit, not a bare "Bad Request (400)"."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.conftest import make_image_bytes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("extra", [1, 40])
def test_a_form_post_with_too_many_files_names_the_limit(owner, extra):
    # The CSRF check reads the body before any view runs, as in a browser: enforce it here too.
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get(reverse("projects-new"))
    data = make_image_bytes()
    files = [
        SimpleUploadedFile(f"{i}.jpg", data, "image/jpeg")
        for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + extra)
    ]
    response = client.post(
        reverse("projects-new"),
        {
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
            "project_name": "many",
            "adapter_name": "many",
            "source": "upload",
            "files": files,
        },
    )
    assert response.status_code == 400
    assert f"at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files" in response.content.decode()
