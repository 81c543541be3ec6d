"""What a match does to an answer, and a bulk job whose images meet the banks and each other:
its verdicts, its summary per bank, and its near-duplicates grouped on the verify page."""

import html

import pytest

from bulk_analysis import runner
from bulk_analysis import services as bulk
from bulk_analysis.models import BulkAnalysisJob
from console.models import AuditEntry
from hashbanks import services
from hashbanks.services import BankMatch, adjust
from tests.hashbanks.conftest import bundled, half, jpeg, png
from verification import services as verification
from verification.models import Verification

pytestmark = pytest.mark.django_db

MODEL_SAYS = {
    "ModerationLabels": [
        {"Confidence": 71.5, "Name": "Alcohol", "ParentName": "", "TaxonomyLevel": 1},
        {"Confidence": 71.5, "Name": "Alcoholic Beverages", "ParentName": "Alcohol", "TaxonomyLevel": 2},
        {
            "Confidence": 55.0,
            "Name": "Smoking",
            "ParentName": "Drugs & Tobacco Paraphernalia & Use",
            "TaxonomyLevel": 3,
        },
    ],
    "ModerationModelVersion": "8.0",
    "ContentTypes": [],
}


def match(kind, label, bank="b"):
    return BankMatch(bank_id=1, bank=bank, kind=kind, label=label, distance=4, hash="0" * 64)


def names(response):
    return {label["Name"]: label["Confidence"] for label in response["ModerationLabels"]}


def test_a_label_bank_adds_its_label_and_parents_at_100_in_the_same_shape():
    out = adjust(MODEL_SAYS, [match("label", "Nazi Party")])
    assert names(out) == {
        "Nazi Party": 100.0,
        "Hate Symbols": 100.0,
        "Alcohol": 71.5,
        "Alcoholic Beverages": 71.5,
        "Smoking": 55.0,
    }
    assert out["ModerationLabels"][0] == {
        "Confidence": 100.0,
        "Name": "Nazi Party",
        "ParentName": "Hate Symbols",
        "TaxonomyLevel": 2,
    }
    assert set(out) == set(MODEL_SAYS) and out["ModerationModelVersion"] == "8.0"
    # A label the model gave already is raised to 100, not repeated.
    raised = adjust(MODEL_SAYS, [match("label", "Alcohol")])
    assert [label["Name"] for label in raised["ModerationLabels"]].count("Alcohol") == 1
    assert names(raised)["Alcohol"] == 100.0


def test_an_allow_bank_removes_the_labels_it_covers():
    assert names(adjust(MODEL_SAYS, [match("allow", "Alcohol")])) == {"Smoking": 55.0}
    assert names(adjust(MODEL_SAYS, [match("allow", "Alcoholic Beverages")])) == {
        "Alcohol": 71.5,
        "Smoking": 55.0,
    }
    assert adjust(MODEL_SAYS, [match("allow", "")])["ModerationLabels"] == []
    # Known-bad wins over known-safe.
    both = adjust(MODEL_SAYS, [match("allow", ""), match("label", "Gambling")])
    assert names(both) == {"Gambling": 100.0}


def test_only_enabled_banks_match_each_at_its_own_distance(owner, label_bank, allow_bank):
    photo = png(bundled("coffee.png"))
    services.add_image(user=owner, bank=label_bank, data=photo, source="coffee")
    services.add_image(user=owner, bank=allow_bank, data=photo, source="coffee")
    query = services.image_hash(data=jpeg(half(bundled("coffee.png")), 60)).hash
    found = services.lookup(hash_hex=query)
    assert {m.bank for m in found} == {"known-hate", "known-safe"}
    distance = found[0].distance
    services.update_bank(user=owner, bank=allow_bank, enabled=False)
    assert [m.bank for m in services.lookup(hash_hex=query)] == ["known-hate"]
    if distance:
        services.update_bank(user=owner, bank=label_bank, match_distance=distance - 1)
        assert services.lookup(hash_hex=query) == []
    actions = list(AuditEntry.objects.filter(object_type="hashbanks.bank").values_list("action", flat=True))
    assert actions.count("hashbank.add_image") == 2 and "hashbank.update" in actions


def test_a_bulk_job_applies_the_banks_counts_matches_and_groups_near_duplicates(
    owner, annotator, client, label_bank, monkeypatch
):
    astronaut = bundled("astronaut.png")
    services.add_image(user=owner, bank=label_bank, data=png(astronaut), source="astronaut")
    files = [
        ("astronaut.png", png(astronaut)),
        ("coffee.jpg", jpeg(bundled("coffee.png"))),
        ("astronaut-half.jpg", jpeg(half(astronaut), 80)),
        ("astronaut-60.jpg", jpeg(astronaut, 60)),
        ("chelsea.jpg", jpeg(bundled("chelsea.png"))),
        ("chelsea-half.jpg", jpeg(half(bundled("chelsea.png")), 70)),
    ]
    job = bulk.create_job(user=owner, name="near-dupes", min_confidence=0)
    bulk.add_files(job=job, files=files)
    bulk.start_job(user=owner, job=job)  # not enqueued: the test's transaction never commits
    assert runner.begin(job_id=job.pk) == "units"
    runner.run_unit(job_id=job.pk, first_line=1, last_line=25)
    job.refresh_from_db()
    assert job.status == BulkAnalysisJob.Status.SUCCEEDED, job.status_message

    rows = {p.line: p for p in job.predictions.all()}
    for line in (1, 3, 4):  # the banked photo, resized and re-encoded: the bank's label at 100
        assert rows[line].top_labels["Hate Symbols"] == 100.0
        assert {m["bank"] for m in rows[line].bank_matches} == {"known-hate"}
        assert names(rows[line].response)["Nazi Party"] == 100.0
    assert all(not rows[line].bank_matches for line in (2, 5, 6))
    assert job.bank_counts == {"known-hate": 3}
    assert [rows[line].duplicate_group for line in range(1, 7)] == [1, None, 1, 1, 5, 5]

    client.force_login(annotator)
    page = html.unescape(client.get(f"/bulk-analysis/{job.pk}/").content.decode())
    assert "known-hate: 3" in page
    assert "matched bank known-hate at distance" in page

    page = html.unescape(client.get(f"/verify/{job.pk}/?threshold=50").content.decode())
    assert page.count('data-duplicates="2"') == 3 and page.count('data-duplicates="1"') == 2
    grouped = client.get(f"/verify/{job.pk}/?threshold=50&group=1").content.decode()
    assert grouped.count('class="card verify-card"') == 3

    # A verdict on one, given to its group in one action, then undone.
    verification.set_verdict(
        user=annotator, prediction=rows[1], label="Gambling", verdict="added", threshold=50.0
    )
    answer = client.post(f"/verify/{job.pk}/images/1/group/", {"label": "Gambling", "threshold": "50"})
    assert answer.status_code == 200, answer.content
    given = dict(Verification.objects.filter(label="Gambling").values_list("prediction__line", "verdict"))
    assert given == {1: "added", 3: "added", 4: "added"}
    token = answer.context["undo_token"]
    assert client.post(f"/verify/{job.pk}/images/1/group/undo/", {"token": token}).status_code == 302
    assert dict(Verification.objects.filter(label="Gambling").values_list("prediction__line", "verdict")) == {
        1: "added"
    }
    assert AuditEntry.objects.filter(action="verification.group_verdict").count() == 1

    # A group larger than the limit asks first.
    monkeypatch.setattr(verification, "GROUP_CONFIRM_LIMIT", 1)
    asked = client.post(f"/verify/{job.pk}/images/1/group/", {"label": "Gambling", "threshold": "50"})
    assert asked.status_code == 200 and b"flood-guard" in asked.content
    assert Verification.objects.filter(label="Gambling").count() == 1
    confirmed = client.post(
        f"/verify/{job.pk}/images/1/group/", {"label": "Gambling", "threshold": "50", "confirm": "1"}
    )
    assert confirmed.status_code == 200 and Verification.objects.filter(label="Gambling").count() == 3
