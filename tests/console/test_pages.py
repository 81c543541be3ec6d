import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from projects.models import Project


@pytest.mark.django_db
def test_the_landing_page_offers_create_project_when_empty(owner_client):
    response = owner_client.get(reverse("console-home"))
    assert response.status_code == 200
    assert b"No projects yet" in response.content
    assert reverse("projects-new").encode() in response.content


@pytest.mark.django_db
def test_the_landing_page_lists_projects_with_their_adapters(owner_client, owner):
    from adapters import services as adapter_services
    from projects import services

    project = services.create_project(user=owner, name="policy-a")
    adapter_services.create_adapter(user=owner, project=project, name="first")
    response = owner_client.get(reverse("console-home"))
    assert b"policy-a" in response.content and b"first" in response.content
    assert b"Draft" in response.content


@pytest.mark.django_db
def test_login_and_logout(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 302
    assert client.get(reverse("console-home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("console-home")).status_code == 302


@pytest.mark.django_db
def test_every_admin_page_loads_for_staff(client, staff):
    client.force_login(staff)
    Project.objects.create(name="p", arn="arn-p")
    assert client.get(reverse("admin:index")).status_code == 200
    ours = [
        m for m in apps.get_models() if m._meta.app_label not in {"admin", "auth", "contenttypes", "sessions"}
    ]
    assert not [m for m in ours if not admin.site.is_registered(m)]  # every model has its changelist
    for model in ours:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(url).status_code == 200, url
        assert client.get(url, {"q": "x"}).status_code == 200, url


@pytest.mark.django_db
def test_notifications_are_listed_and_marked_read(owner_client, owner):
    owner.notifications.create(message="Adapter first finished training")
    response = owner_client.get(reverse("console-notifications"))
    assert b"Adapter first finished training" in response.content
    owner_client.post(reverse("console-notifications-read"))
    assert owner.notifications.filter(read_at=None).count() == 0


@pytest.mark.django_db
def test_a_new_user_can_only_read_until_given_a_role(client, django_user_model, staff):
    from console.models import Profile

    reader = django_user_model.objects.create_user(username="new", password="pw")
    assert Profile.for_user(reader).role == "viewer"
    client.force_login(staff)
    url = reverse("admin:auth_user_change", args=[reader.pk])
    response = client.get(url)
    assert response.status_code == 200 and b"profile-0-role" in response.content
