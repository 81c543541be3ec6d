import pytest
from django.core.exceptions import ValidationError

from console.validators import (
    validate_adapter_name,
    validate_confidence,
    validate_description,
    validate_job_name,
    validate_kms_key_id,
    validate_project_name,
    validate_tags,
    validate_top_level_label,
)
from moderation import taxonomy


@pytest.mark.parametrize("name", ["a", "my-project_1.v2", "x" * 255])
def test_it_accepts_names_of_the_spec(name):
    validate_project_name(name)
    validate_adapter_name(name)


@pytest.mark.parametrize(
    "name,fragment",
    [
        ("", "is required"),
        ("bad name!", "may contain only"),
        ("x" * 256, "at most 255"),
        ("ünï", "may contain only"),
    ],
)
def test_it_refuses_bad_project_names_naming_the_field(name, fragment):
    with pytest.raises(ValidationError) as exc:
        validate_project_name(name)
    assert exc.value.messages[0].startswith("Project name: ")
    assert fragment in exc.value.messages[0]


def test_job_names_are_limited_to_64_characters():
    validate_job_name("j" * 64)
    with pytest.raises(ValidationError, match="Job name: must be at most 64"):
        validate_job_name("j" * 65)


def test_descriptions_follow_the_version_description_pattern():
    validate_description("first try (v1): alcohol, gambling; ok?")
    validate_description("")
    with pytest.raises(ValidationError, match="Description: may contain only"):
        validate_description("no <html>")
    with pytest.raises(ValidationError, match="at most 255"):
        validate_description("d" * 256)


def test_it_accepts_good_tags():
    validate_tags({"team": "trust-safety", "Ünicode key": "value with spaces", "empty": ""})
    validate_tags({f"k{i}": "v" for i in range(200)})


@pytest.mark.parametrize(
    "tags,fragment",
    [
        ({f"k{i}": "v" for i in range(201)}, "at most 200 tags"),
        ({"aws:owner": "x"}, "must not start with 'aws:'"),
        ({"AWS:owner": "x"}, "must not start with 'aws:'"),
        ({"": "x"}, "1 to 128"),
        ({"k" * 129: "x"}, "1 to 128"),
        ({"bad#key": "x"}, "may contain only"),
        ({"key": "v" * 257}, "at most 256"),
        ({"key": "semi;colon"}, "may contain only"),
    ],
)
def test_it_refuses_tags_that_break_a_rule(tags, fragment):
    with pytest.raises(ValidationError) as exc:
        validate_tags(tags)
    assert exc.value.messages[0].startswith("Tags")
    assert fragment in exc.value.messages[0]


@pytest.mark.parametrize("value", [0, 0.0, 50, 99.5, 100])
def test_it_accepts_confidences_from_0_to_100(value):
    validate_confidence(value, "MinConfidence")


@pytest.mark.parametrize("value", [-1, 100.01, 101, "50", True, None])
def test_it_refuses_confidences_outside_0_to_100(value):
    with pytest.raises(ValidationError, match="^.*MinConfidence: must be"):
        validate_confidence(value, "MinConfidence")


def test_kms_key_ids():
    validate_kms_key_id("alias/my-key")
    validate_kms_key_id("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    with pytest.raises(ValidationError, match="KMS key"):
        validate_kms_key_id("-starts-with-dash")


def test_the_taxonomy_has_the_v7_shape():
    levels = [label.level for label in taxonomy.LABELS.values()]
    assert (levels.count(1), levels.count(2), levels.count(3)) == (10, 20, 22)
    assert [a.name for a in taxonomy.ancestors("Smoking")] == [
        "Smoking",
        "Drugs & Tobacco Paraphernalia & Use",
        "Drugs & Tobacco",
    ]
    assert taxonomy.get("Gambling").parent == ""


def test_v6_names_map_onto_v7_top_level():
    assert taxonomy.normalize_training_label("Explicit Nudity") == ["Explicit"]
    assert taxonomy.normalize_training_label("Suggestive") == [
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Swimwear or Underwear",
    ]
    assert taxonomy.normalize_training_label("Alcohol") == ["Alcohol"]


def test_labels_are_validated_against_the_taxonomy():
    validate_top_level_label("Hate Symbols")
    with pytest.raises(ValidationError, match="not a label"):
        validate_top_level_label("Cute Cats")
    with pytest.raises(ValidationError, match="level-3 label"):
        validate_top_level_label("Smoking")
    with pytest.raises(ValidationError, match="use the v7 name"):
        validate_top_level_label("Tobacco")
