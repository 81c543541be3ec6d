"""The Hash banks pages through the HTTP client: banks made, changed and deleted, filled by upload,
by hash list and from a grid's "Add to bank", exported; every change audited."""

import html
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from adapters import datasets
from adapters import services as adapter_services
from console.models import AuditEntry
from hashbanks import pdq, services
from hashbanks.models import Bank, BankHash
from projects import services as project_services
from tests.bulk_analysis.conftest import finished_job
from tests.conftest import make_image_bytes
from tests.hashbanks.conftest import bundled, half, jpeg, png

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def audit(action: str) -> int:
    return AuditEntry.objects.filter(action=action).count()


def test_the_hash_banks_page_is_in_the_navigation_and_lists_banks(owner_client, owner, label_bank):
    page = text(owner_client.get("/hash-banks/"))
    assert 'href="/hash-banks/"' in page and "known-hate" in page and "Nazi Party" in page
    assert "Create bank" in page


def test_a_viewer_sees_banks_but_cannot_create_one(client, viewer, label_bank):
    client.force_login(viewer)
    page = text(client.get("/hash-banks/"))
    assert "known-hate" in page and "Create bank" not in page
    assert (
        client.post("/hash-banks/new/", {"name": "x", "kind": "allow", "match_distance": "31"}).status_code
        == 403
    )
    assert not Bank.objects.filter(name="x").exists()


def test_it_creates_edits_and_deletes_a_bank(owner_client):
    answer = owner_client.post(
        "/hash-banks/new/",
        {"name": "beer", "kind": "allow", "label": "Alcohol", "match_distance": "20", "enabled": "on"},
    )
    bank = Bank.objects.get(name="beer")
    assert answer.status_code == 302 and answer["Location"] == f"/hash-banks/{bank.pk}/"
    assert (bank.kind, bank.label, bank.match_distance, bank.enabled) == ("allow", "Alcohol", 20, True)
    assert "allow: Alcohol" in text(owner_client.get(f"/hash-banks/{bank.pk}/"))

    owner_client.post(
        f"/hash-banks/{bank.pk}/edit/", {"name": "beer", "kind": "allow", "label": "", "match_distance": "31"}
    )
    bank.refresh_from_db()
    assert (bank.label, bank.match_distance, bank.enabled) == ("", 31, False)
    entry = AuditEntry.objects.get(action="hashbank.update")
    assert entry.detail["changes"]["match_distance"] == [20, 31] and entry.detail["changes"]["enabled"] == [
        True,
        False,
    ]

    assert owner_client.get(f"/hash-banks/{bank.pk}/delete/").status_code == 200
    assert owner_client.post(f"/hash-banks/{bank.pk}/delete/").status_code == 302
    assert not Bank.objects.exists()
    assert [audit(a) for a in ("hashbank.create", "hashbank.update", "hashbank.delete")] == [1, 1, 1]


def test_it_refuses_a_label_bank_without_a_label_and_a_taken_name(owner_client, label_bank):
    answer = owner_client.post(
        "/hash-banks/new/", {"name": "nolabel", "kind": "label", "match_distance": "31"}, follow=True
    )
    assert "a label bank needs the label its matches get" in text(answer)
    answer = owner_client.post(
        "/hash-banks/new/", {"name": "known-hate", "kind": "allow", "match_distance": "31"}, follow=True
    )
    assert "a bank named 'known-hate' exists already" in text(answer)
    answer = owner_client.post(
        "/hash-banks/new/", {"name": "far", "kind": "allow", "match_distance": "99"}, follow=True
    )
    assert "Match distance" in text(answer)
    assert list(Bank.objects.values_list("name", flat=True)) == ["known-hate"]


def test_it_uploads_images_and_refuses_a_flat_one_with_the_reason(client, annotator, label_bank):
    client.force_login(annotator)
    flat = png(Image.new("RGB", (300, 200), (200, 200, 200)))
    answer = client.post(
        f"/hash-banks/{label_bank.pk}/upload/",
        {
            "images": [
                SimpleUploadedFile("cat.png", png(bundled("chelsea.png")), content_type="image/png"),
                SimpleUploadedFile("grey.png", flat, content_type="image/png"),
            ]
        },
        follow=True,
    )
    page = text(answer)
    assert "5 hashes added" in page  # the image and its four border crops
    assert re.search(r"grey\.png: PDQ quality \d+ is below 50", page), page
    rows = list(label_bank.hashes.values_list("source", "variant", "added_by__username"))
    assert sorted(rows) == sorted(
        [("upload cat.png", v, "annotator") for v in ("", "crop 2.5%", "crop 5%", "crop 7.5%", "crop 10%")]
    )
    assert audit("hashbank.add_image") == 1


HASHES = [pdq.of_bytes(png(bundled(name))) for name in ("astronaut.png", "coffee.png", "camera.png")]


def test_it_imports_a_hash_list_and_exports_the_same_format(owner_client, label_bank):
    body = (
        "# exported from HMA\n"
        f"{HASHES[0].hex},{HASHES[0].quality},astronaut, from a partner\n"
        f"{HASHES[1].hex.upper()}\t{HASHES[1].quality}\n"
        "\n"
        f"{HASHES[2].hex}\n"
        f"{HASHES[2].hex},100,again\n"
    ).encode()
    answer = owner_client.post(
        f"/hash-banks/{label_bank.pk}/import/",
        {"hash_list": SimpleUploadedFile("partner.txt", body)},
        follow=True,
    )
    assert "3 hashes added" in text(answer)
    stored = {h.hash: (h.quality, h.note, h.source) for h in label_bank.hashes.all()}
    assert stored[HASHES[0].hex] == (
        HASHES[0].quality,
        "astronaut, from a partner",
        "import partner.txt line 2",
    )
    assert stored[HASHES[2].hex][0] is None
    assert AuditEntry.objects.get(action="hashbank.import").detail["added"] == 3

    exported = owner_client.get(f"/hash-banks/{label_bank.pk}/export/")
    assert exported["Content-Disposition"].startswith("attachment")
    lines = b"".join(exported.streaming_content).decode().splitlines()
    assert lines == [
        f"{HASHES[0].hex},{HASHES[0].quality},astronaut, from a partner",
        f"{HASHES[1].hex},{HASHES[1].quality}",
        HASHES[2].hex,
    ]
    # What was exported imports again into another bank, unchanged.
    other = services.create_bank(user=None, name="copy", kind="allow")
    services.import_hash_list(user=None, bank=other, data="\n".join(lines).encode(), name="export.txt")
    assert set(other.hashes.values_list("hash", "quality", "note")) == set(
        label_bank.hashes.values_list("hash", "quality", "note")
    )
    # The imported hashes match: a resized copy of the astronaut is found.
    matches = services.lookup(hash_hex=pdq.of_bytes(jpeg(half(bundled("astronaut.png")), 60)).hex)
    assert {m.bank for m in matches} == {"known-hate", "copy"}


def test_a_bad_hash_list_is_refused_whole_naming_each_line(owner_client, label_bank):
    body = (f"{HASHES[0].hex},90,fine\nabc123\n{HASHES[1].hex},32,too flat\n{HASHES[2].hex},lots\n").encode()
    answer = owner_client.post(
        f"/hash-banks/{label_bank.pk}/import/",
        {"hash_list": SimpleUploadedFile("bad.txt", body)},
        follow=True,
    )
    page = text(answer)
    assert "Nothing imported from bad.txt" in page
    assert "bad.txt line 2: a PDQ hash has 64 hex digits, not 6" in page
    assert "bad.txt line 3: PDQ quality 32 is below 50" in page
    assert "bad.txt line 4: quality 'lots' is not a whole number" in page
    assert not BankHash.objects.exists() and audit("hashbank.import") == 0


def test_it_adds_a_dataset_image_from_the_assign_labels_grid(client, owner, annotator, label_bank):
    project = project_services.create_project(user=owner, name="grid")
    adapter = adapter_services.create_adapter(user=owner, project=project, name="draft")
    datasets.import_files(user=owner, adapter=adapter, files=[("horse.png", png(bundled("horse.png")))])
    url = f"/projects/{project.pk}/adapters/{adapter.pk}/labels/"
    client.force_login(annotator)
    page = text(client.get(url))
    assert "Add to bank" in page and "matched bank" not in page
    token = re.search(r'name="bank_item" value="([^"]+)"', page).group(1)

    answer = client.post("/hash-banks/add/", {"bank_item": token, "bank": label_bank.pk, "next": url})
    assert answer.status_code == 302 and answer["Location"] == url
    assert label_bank.hashes.filter(variant="", source="dataset image horse.png").exists()
    assert "matched bank known-hate at distance 0" in text(client.get(url))

    forged = client.post(
        "/hash-banks/add/", {"bank_item": token[:-2] + "xx", "bank": label_bank.pk}, follow=True
    )
    assert "not one this console gave" in text(forged)


def test_the_minimum_pdq_quality_is_a_setting(owner_client, label_bank, settings):
    low_list = f"{HASHES[1].hex},32,low\n".encode()
    plain = make_image_bytes(100, 90, seed=1)  # a few dots on a flat colour
    quality = pdq.of_bytes(plain).quality
    assert 10 <= quality < 50

    def send():
        owner_client.post(
            f"/hash-banks/{label_bank.pk}/upload/",
            {"images": SimpleUploadedFile("plain.jpg", plain, content_type="image/jpeg")},
        )
        return text(
            owner_client.post(
                f"/hash-banks/{label_bank.pk}/import/",
                {"hash_list": SimpleUploadedFile("low.txt", low_list)},
                follow=True,
            )
        )

    page = send()
    assert (
        f"plain.jpg: PDQ quality {quality} is below 50" in page
        and "low.txt line 1: PDQ quality 32 is below 50" in page
    )
    assert not label_bank.hashes.exists()

    settings.HASHBANKS_MIN_QUALITY = 10
    page = send()
    assert "is below 10:" not in page and "is below 50:" not in page
    assert "Images whose PDQ quality is below 10 are refused" in page
    assert label_bank.hashes.filter(hash=HASHES[1].hex, quality=32).exists()
    assert label_bank.hashes.filter(source="upload plain.jpg", variant="", quality=quality).exists()


@pytest.mark.parametrize("page", ["/bulk-analysis/{}/", "/verify/{}/?threshold=50"], ids=["bulk", "verify"])
def test_it_adds_a_bulk_job_image_from_its_card(client, owner, annotator, label_bank, page):
    job = finished_job(owner, [{"Alcohol": 80.0}], files=[("horse.jpg", jpeg(bundled("horse.png")))])
    url = page.format(job.pk)
    client.force_login(annotator)
    page = text(client.get(url))
    assert "Add to bank" in page
    token = re.search(r'name="bank_item" value="([^"]+)"', page).group(1)

    answer = client.post("/hash-banks/add/", {"bank_item": token, "bank": label_bank.pk, "next": url})
    assert answer.status_code == 302 and answer["Location"] == url
    with default_storage.open(job.predictions.get(line=1).file) as stored:
        horse = pdq.of_bytes(stored.read()).hex
    assert label_bank.hashes.filter(hash=horse, variant="", source="bulk job done-job line 1").exists()
    entry = AuditEntry.objects.get(action="hashbank.add_image")
    assert entry.user == annotator and entry.detail["source"] == "bulk job done-job line 1"
    assert entry.detail["hash"] == horse
    assert "bulk job done-job line 1 added to bank known-hate" in text(client.get(url))


def test_a_manager_removes_one_hash(owner_client, label_bank):
    services.import_hash_list(user=None, bank=label_bank, data=HASHES[0].hex.encode(), name="one.txt")
    row = label_bank.hashes.get()
    assert owner_client.post(f"/hash-banks/{label_bank.pk}/hashes/{row.pk}/remove/").status_code == 302
    assert not label_bank.hashes.exists() and audit("hashbank.remove_hash") == 1
