"""Create project: one form for a new or an existing project, an adapter and its images."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from adapters.models import Adapter, Image
from console.models import AuditEntry
from projects.models import Project
from tests.projects.conftest import add_images, all_dataset_files, gif, gt, jpeg, manifest, page_text, put

BUCKET = settings.STORAGE_BUCKET  # console-local on disk, the real bucket on S3

pytestmark = pytest.mark.django_db
URL = "/projects/new/"


def form(**extra):
    data = {
        "project_mode": "new",
        "project_name": "policy",
        "adapter_name": "first",
        "adapter_description": "Our first try",
        "auto_update": "on",
        "source": "upload",
        "test_data": "autosplit",
    }
    data.update(extra)
    return data


def test_the_form_offers_new_or_existing_project_sources_and_test_set(owner_client):
    text = page_text(owner_client.get(URL))
    for words in (
        "Create a new project",
        "Add to an existing project",
        "Import images from your computer",
        "Import manifest file",
        "Import images from Amazon S3 bucket",
        "Autosplit (recommended)",
        "Manually import manifest file",
        "Auto-update",
    ):
        assert words in text
    assert 'name="auto_update" id="id_auto_update" checked' in text  # on by default


def test_it_creates_project_and_adapter_with_uploaded_images_without_javascript(owner_client, owner):
    files = [SimpleUploadedFile("a.jpg", jpeg(1)), SimpleUploadedFile("b.gif", gif())]
    response = owner_client.post(URL, form(files=files), follow=True)
    adapter = Adapter.objects.get()
    assert response.redirect_chain[-1][0] == reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    text = page_text(response)
    assert "1 image added." in text and "b.gif (the image is not a JPEG or PNG file" in text
    assert (adapter.project.name, adapter.name, adapter.description) == ("policy", "first", "Our first try")
    assert adapter.project.auto_update and adapter.status == "DRAFT" and adapter.test_data == "autosplit"
    assert Image.objects.get().original_name == "a.jpg"
    assert AuditEntry.objects.filter(action="project.create").exists()


def test_with_javascript_it_answers_where_to_upload_the_images(owner_client):
    response = owner_client.post(URL, form(auto_update=""), headers={"accept": "application/json"})
    assert response.status_code == 200
    body = response.json()
    adapter = Adapter.objects.get()
    assert not adapter.project.auto_update
    assert body["upload_url"] == reverse("projects-upload", args=[adapter.project_id, adapter.pk])
    assert body["next_url"] == reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    assert body["batch"] == 30


def test_it_names_each_bad_field(owner_client):
    response = owner_client.post(
        URL, form(project_name="bad name!", adapter_name="", adapter_description="<b>")
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "Project name: may contain only letters" in text
    assert "This field is required." in text
    assert "Description: may contain only" in text
    response = owner_client.post(URL, form(project_name=""), headers={"accept": "application/json"})
    assert "Project name: is required" in response.json()["errors"]
    assert Project.objects.count() == 0


def test_it_refuses_a_taken_project_name(owner_client, owner):
    from projects import services

    services.create_project(user=owner, name="policy")
    response = owner_client.post(URL, form())
    assert "a project named &#x27;policy&#x27; already exists" in response.content.decode()
    assert Adapter.objects.count() == 0


def test_a_labeled_manifest_gives_an_adapter_ready_to_train_its_labels(owner_client):
    uris = [put(f"in/{i}.jpg", jpeg(i)) for i in range(3)]
    data = manifest(gt(uris[0], "Alcohol"), gt(uris[1]), gt(uris[2], "Violence"))
    response = owner_client.post(
        URL, form(source="manifest", manifest=SimpleUploadedFile("train.manifest", data))
    )
    assert response.status_code == 302
    assert Image.objects.filter(label_state="unlabeled").count() == 0
    assert Image.objects.filter(label_state="safe").count() == 1


def test_a_bad_manifest_creates_nothing_at_all(owner_client):
    good = put("in/good.jpg", jpeg(1))
    data = manifest(gt(good, "Alcohol"), gt(good, "Nope"), "garbage")
    response = owner_client.post(
        URL, form(source="manifest", manifest=SimpleUploadedFile("train.manifest", data))
    )
    assert response.status_code == 400
    text = page_text(response)
    assert (
        "train.manifest line 2: unknown label 'Nope'" in text
        and "train.manifest line 3: is not valid JSON" in text
    )
    assert Project.objects.count() == 0 and Adapter.objects.count() == 0 and Image.objects.count() == 0


def test_a_manifest_with_an_unreadable_image_creates_nothing_and_leaves_no_file(owner_client):
    good = put("in/good.jpg", jpeg(1))
    data = manifest(gt(good, "Alcohol"), gt(f"s3://{BUCKET}/in/gone.jpg", "Alcohol"))
    response = owner_client.post(
        URL, form(source="manifest", manifest=SimpleUploadedFile("train.manifest", data))
    )
    assert response.status_code == 400
    assert f"train.manifest line 2: s3://{BUCKET}/in/gone.jpg: no such object" in page_text(response)
    assert Project.objects.count() == 0 and all_dataset_files() == []


def test_a_test_manifest_gives_the_test_split_and_its_labels(owner_client):
    t1, t2 = put("t/1.jpg", jpeg(50)), put("t/2.jpg", jpeg(51))
    response = owner_client.post(
        URL,
        form(
            test_data="manifest",
            test_manifest=SimpleUploadedFile("test.manifest", manifest(gt(t1, "Gambling"), gt(t2))),
        ),
    )
    assert response.status_code == 302
    adapter = Adapter.objects.get()
    assert adapter.test_data == "manifest"
    assert sorted(Image.objects.filter(split="test").values_list("label_state", flat=True)) == [
        "labeled",
        "safe",
    ]


def test_a_bad_test_manifest_is_named(owner_client):
    response = owner_client.post(
        URL, form(test_data="manifest", test_manifest=SimpleUploadedFile("test.manifest", b"{}\n"))
    )
    assert response.status_code == 400 and "test.manifest line 1: has no source-ref" in page_text(response)
    assert Project.objects.count() == 0


def test_it_adds_an_adapter_to_an_existing_project_copying_a_previous_one(owner_client, owner, adapter):
    images = add_images(owner, adapter, 3)
    from adapters import datasets

    datasets.set_labels(user=owner, images=images[:2], add=["Alcohol"])
    page = page_text(owner_client.get(URL, {"project": adapter.project_id}))
    assert 'value="existing" id="id_project_mode_1" required checked' in page
    response = owner_client.post(
        URL,
        form(
            project_mode="existing",
            project=adapter.project_id,
            project_name="",
            adapter_name="second",
            copy_from=adapter.pk,
        ),
    )
    assert response.status_code == 302
    second = Adapter.objects.get(name="second")
    assert second.project_id == adapter.project_id and second.copied_from_id == adapter.pk
    copies = Image.objects.filter(adapter=second)
    assert copies.count() == 3 and copies.filter(label_state="labeled", labels__name="Alcohol").count() == 2
    assert set(copies.values_list("source", flat=True)) == {"copy"}
    assert not set(copies.values_list("file", flat=True)) & set(
        Image.objects.filter(adapter=adapter).values_list("file", flat=True)
    )
    assert Project.objects.count() == 1


def test_it_refuses_copying_an_adapter_of_another_project(owner_client, owner, adapter):
    from projects import services

    other = services.create_project(user=owner, name="other")
    response = owner_client.post(
        URL, form(project_mode="existing", project=other.pk, adapter_name="second", copy_from=adapter.pk)
    )
    assert response.status_code == 400 and "choose an adapter of project other" in page_text(response)


def test_existing_mode_needs_a_project(owner_client):
    response = owner_client.post(URL, form(project_mode="existing", project=""))
    assert "Project: choose the project to add the adapter to" in page_text(response)


def test_the_s3_source_says_when_s3_is_not_configured(owner_client, settings, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.AWS_S3_ENDPOINT_URL = None
    settings.STORAGE_BACKEND = "local"  # the second test run stores files on S3, which counts as configured
    response = owner_client.post(URL, form(source="s3", s3_uri="s3://photos/x/"))
    assert response.status_code == 400 and "S3 is not configured on this console" in page_text(response)
    assert Project.objects.count() == 0


def test_only_managers_may_create_projects(client, annotator, viewer):
    for user in (annotator, viewer):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, form()).status_code == 403
    assert Project.objects.count() == 0
