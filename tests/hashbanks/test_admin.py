"""The hash bank admin through the HTTP client: a bad label is an error on the form, not a 500."""

import html

import pytest
from django.urls import reverse

from console.models import AuditEntry
from hashbanks.models import Bank

pytestmark = pytest.mark.django_db


def form(**values):
    return {
        "name": "known-hate",
        "kind": "label",
        "label": "Nazi Party",
        "description": "",
        "match_distance": "31",
        "enabled": "on",
        **values,
    }


def test_the_admin_shows_a_bad_label_on_the_form_and_saves_a_good_bank(client, staff):
    client.force_login(staff)
    add = reverse("admin:hashbanks_bank_add")

    for bad, reason in (
        ({"label": ""}, "a label bank needs the label its matches get"),
        ({"label": "Not A Label"}, "'Not A Label' is not a label of moderation taxonomy"),
    ):
        answer = client.post(add, form(**bad))
        assert answer.status_code == 200, bad
        assert reason in html.unescape(answer.content.decode())
    assert not Bank.objects.exists() and not AuditEntry.objects.filter(action="hashbank.create").exists()

    assert client.post(add, form()).status_code == 302
    bank = Bank.objects.get(name="known-hate")
    assert bank.label == "Nazi Party" and AuditEntry.objects.filter(action="hashbank.create").count() == 1

    change = reverse("admin:hashbanks_bank_change", args=[bank.pk])
    answer = client.post(change, form(label="Not A Label"))
    assert answer.status_code == 200
    assert "is not a label of moderation taxonomy" in html.unescape(answer.content.decode())
    bank.refresh_from_db()
    assert bank.label == "Nazi Party" and not AuditEntry.objects.filter(action="hashbank.update").exists()
