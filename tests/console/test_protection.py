"""Reviewer protection: the organisation default an admin sets, each person's own choice, and the
classes every grid gives a protected image (console.lib.protection)."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

from adapters import datasets
from console.lib.protection import Protection
from console.models import AuditEntry, OrganisationProtection, Profile
from moderation import taxonomy
from tests.bulk_analysis.conftest import finished_job
from tests.conftest import make_user
from tests.projects.conftest import adapter, add_images, page_text  # noqa: F401 (a fixture)

VIOLENCE, ALCOHOL = {"Violence": 90.0}, {"Alcohol": 90.0}


def test_it_protects_an_image_in_a_chosen_top_level_category_at_any_level():
    blur = Protection("blur", frozenset({"Violence", "Explicit"}))
    assert blur.classes(["Violence"]) == "blurred"
    assert blur.classes(["Weapons"]) == "blurred"  # second level, under Violence
    assert blur.classes(["Alcohol", "Not a label"]) == ""
    assert Protection("greyscale", frozenset({"Violence"})).classes(["Violence"]) == "greyscale"
    assert Protection("both", frozenset({"Violence"})).classes(["Violence"]) == "blurred greyscale"
    assert Protection("none", frozenset({"Violence"})).classes(["Violence"]) == ""
    assert Protection("blur", frozenset()).classes(["Violence"]) == ""


@pytest.mark.django_db
def test_the_organisation_default_blurs_the_four_default_categories(owner):
    assert Profile.for_user(owner).protection() == Protection(
        "blur", frozenset(taxonomy.PROTECTED_BY_DEFAULT)
    )
    assert set(taxonomy.PROTECTED_BY_DEFAULT) <= set(taxonomy.TOP_LEVEL)


def grid_classes(client, job) -> dict[str, str]:
    """The bulk details grid: each card's line -> its thumbnail's protection classes."""
    text = page_text(client.get(reverse("bulk-detail", args=[job.pk])))
    cards = re.findall(r'data-line="(\d+)".*?<img ([^>]*)>', text, re.S)
    return {line: (re.findall(r'data-protect="([^"]*)"', img) or [""])[0] for line, img in cards}


@pytest.mark.django_db
def test_it_follows_the_organisation_default_an_admin_sets(client, owner, staff):
    job = finished_job(owner, [VIOLENCE, ALCOHOL])
    client.force_login(owner)
    assert grid_classes(client, job) == {"1": "blurred", "2": ""}

    client.force_login(staff)
    response = client.post(
        reverse("console-protection-organisation"), {"mode": "both", "categories": ["Alcohol"]}
    )
    assert response.status_code == 302
    org = OrganisationProtection.get()
    assert (org.mode, org.categories) == ("both", ["Alcohol"])
    assert AuditEntry.objects.filter(action="protection.organisation").exists()

    client.force_login(owner)
    assert grid_classes(client, job) == {"1": "", "2": "blurred greyscale"}


@pytest.mark.django_db
def test_a_persons_own_choice_wins_over_the_organisation_default(client, owner, annotator):
    job = finished_job(owner, [VIOLENCE, ALCOHOL])
    client.force_login(owner)
    response = client.post(
        reverse("console-protection"), {"protection_mode": "greyscale", "protected_categories": ["Violence"]}
    )
    assert response.status_code == 302
    assert grid_classes(client, job) == {"1": "greyscale", "2": ""}
    client.force_login(annotator)  # still on the organisation default
    assert grid_classes(client, job) == {"1": "blurred", "2": ""}

    # Back to the organisation default: the own categories are forgotten.
    client.force_login(owner)
    client.post(reverse("console-protection"), {"protection_mode": "", "protected_categories": ["Alcohol"]})
    profile = Profile.objects.get(user=owner)
    assert (profile.protection_mode, profile.protected_categories) == ("", [])
    assert grid_classes(client, job) == {"1": "blurred", "2": ""}


@pytest.mark.django_db
def test_the_django_admin_edits_the_one_organisation_row(client, staff):
    client.force_login(staff)
    add = reverse("admin:console_organisationprotection_add")
    response = client.post(add, {"mode": "greyscale", "categories": ["Violence"]})
    assert response.status_code == 302
    org = OrganisationProtection.get()
    assert (org.mode, org.categories) == ("greyscale", ["Violence"])
    assert client.get(add).status_code == 403  # one row only
    change = reverse("admin:console_organisationprotection_change", args=[org.pk])
    assert client.get(change).status_code == 200


@pytest.mark.django_db
def test_only_an_admin_may_change_the_organisation_default(client, owner, django_user_model):
    client.force_login(owner)  # a manager
    url = reverse("console-protection-organisation")
    assert client.get(url).status_code == 403
    assert client.post(url, {"mode": "none"}).status_code == 403
    assert not OrganisationProtection.objects.exists()
    assert url not in page_text(client.get(reverse("console-protection")))

    client.force_login(make_user(django_user_model, "admin-role", Profile.Role.ADMIN))
    assert client.get(url).status_code == 200
    assert url in page_text(client.get(reverse("console-protection")))


@pytest.mark.django_db
def test_the_settings_page_is_a_plain_form_with_labels_reached_from_the_shell(owner_client):
    text = page_text(owner_client.get(reverse("console-home")))
    assert f'href="{reverse("console-protection")}"' in text
    text = page_text(owner_client.get(reverse("console-protection")))
    ids = re.findall(r'<input type="(?:radio|checkbox)" name="\w+" value="[^"]*"[^>]*id="([^"]+)"', text)
    assert len(ids) == 5 + len(taxonomy.TOP_LEVEL)  # the default and four modes, each category
    for input_id in ids:
        assert f'<label for="{input_id}">' in text, input_id
    assert "<legend>Protection</legend>" in text


@pytest.mark.django_db
def test_the_training_tab_protects_its_thumbnails_and_names_them(owner_client, owner, adapter):  # noqa: F811
    images = add_images(owner, adapter, 2)
    datasets.set_labels(user=owner, images=[images[0]], add=["Explicit"])
    text = page_text(owner_client.get(reverse("adapters-detail", args=[adapter.pk]) + "?tab=training"))
    assert 'alt="img0.jpg: labeled Explicit"' in text and 'alt="img1.jpg: unlabeled"' in text
    assert text.count('data-protect="blurred"') == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_a_turned_off_blur_off(django_user_model):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("console", "0009_object_audit_index")], [("console", "0010_reviewer_protection")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user_model = old.get_model(settings.AUTH_USER_MODEL)
    old_profile = old.get_model("console", "Profile")
    off = old_profile.objects.create(user=user_model.objects.create(username="off"), blur_explicit=False)
    on = old_profile.objects.create(user=user_model.objects.create(username="on"), blur_explicit=True)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    assert Profile.objects.get(pk=off.pk).protection_mode == "none"  # their own choice: nothing hidden
    assert Profile.objects.get(pk=on.pk).protection_mode == ""  # the organisation default
    executor.loader.build_graph()  # and back to the latest schema for the tests that follow
    executor.migrate(executor.loader.graph.leaf_nodes())
