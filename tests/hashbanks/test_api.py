"""DetectModerationLabels through boto3 against the live test server, with hash banks."""

import pytest

from hashbanks import services
from rekognition_api.keys import create_api_key
from tests.api.conftest import make_client, put
from tests.hashbanks.conftest import border_crop, bundled, half, jpeg, png

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rek(live_server, owner):
    key, secret = create_api_key(user=owner, name="banks")
    # The first detection builds the local engine's models in this test's data folder: minutes on
    # a busy machine, past botocore's 60 s default.
    return make_client(live_server.url, key.access_key_id, secret, read_timeout=600)


def labels(answer) -> dict[str, float]:
    return {label["Name"]: label["Confidence"] for label in answer["ModerationLabels"]}


def test_a_banked_image_resized_and_reencoded_gets_the_banks_label_at_100(rek, owner, label_bank):
    astronaut = bundled("astronaut.png")
    seen = jpeg(half(astronaut), 60)
    before = rek.detect_moderation_labels(Image={"Bytes": seen}, MinConfidence=50)
    assert "Nazi Party" not in labels(before)

    services.add_image(user=owner, bank=label_bank, data=png(astronaut), source="astronaut")
    answer = rek.detect_moderation_labels(Image={"Bytes": seen}, MinConfidence=50)
    assert labels(answer)["Nazi Party"] == 100.0 and labels(answer)["Hate Symbols"] == 100.0
    assert {
        "Name": "Nazi Party",
        "ParentName": "Hate Symbols",
        "TaxonomyLevel": 2,
        "Confidence": 100.0,
    } in answer["ModerationLabels"]
    assert set(answer) - {"ResponseMetadata"} == set(before) - {"ResponseMetadata"}  # the same shape
    # From storage too (S3Object), and cropped.
    obj = put("api-banks/astronaut.jpg", jpeg(border_crop(astronaut, 0.05), 80))
    answer = rek.detect_moderation_labels(Image={"S3Object": obj}, MinConfidence=50)
    assert labels(answer)["Nazi Party"] == 100.0


def test_an_allow_banked_image_loses_the_models_label(rek, owner):
    coffee = bundled("coffee.png")
    seen = jpeg(half(coffee), 60)
    before = labels(rek.detect_moderation_labels(Image={"Bytes": seen}, MinConfidence=5))
    assert "Explicit" in before  # the base model's false positive on this photo

    bank = services.create_bank(user=owner, name="known-safe-coffee", kind="allow", label="Explicit")
    services.add_image(user=owner, bank=bank, data=png(coffee), source="coffee")
    after = labels(rek.detect_moderation_labels(Image={"Bytes": seen}, MinConfidence=5))
    assert not {"Explicit", "Explicit Nudity", "Exposed Buttocks or Anus"} & set(after)
    assert {
        name: conf
        for name, conf in before.items()
        if name not in ("Explicit", "Explicit Nudity") and "Exposed" not in name
    } == after
