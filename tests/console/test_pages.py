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
def test_the_landing_page_lists_fifty_projects_a_page_newest_first(owner_client):
    from datetime import timedelta

    from django.utils import timezone

    from projects.views import HOME_PAGE

    now = timezone.now()
    for i in range(HOME_PAGE + 1):  # p000 the newest (created_at is set on create: moved after)
        project = Project.objects.create(name=f"p{i:03d}", arn=f"arn-{i}")
        Project.objects.filter(pk=project.pk).update(created_at=now - timedelta(minutes=i))
    first = owner_client.get(reverse("console-home")).content.decode()
    assert "p000" in first and f"p{HOME_PAGE - 1:03d}" in first and f"p{HOME_PAGE:03d}" not in first
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = owner_client.get(reverse("console-home"), {"page": 2}).content.decode()
    assert f"p{HOME_PAGE:03d}" in second and "p000<" not in second


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
