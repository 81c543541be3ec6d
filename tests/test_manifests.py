import io
import json

import pytest

from moderation import manifests
from moderation.manifests import GroundTruthLine, ManifestError, SummaryError


def line(uri="s3://bucket/a.jpg", labels=("Alcohol",), **extra):
    obj = {
        "source-ref": uri,
        "content-moderation-groundtruth": {"ModerationLabels": [{"Name": n} for n in labels]},
    }
    obj.update(extra)
    return json.dumps(obj)


def errors_of(data, reader=manifests.read_groundtruth, name="train.manifest"):
    with pytest.raises(ManifestError) as info:
        reader(data, name=name)
    return [(e.line, e.message) for e in info.value.errors], str(info.value)


def test_it_round_trips_a_training_manifest():
    entries = [
        ("s3://bucket/img/1.jpg", ["Alcohol", "Violence"]),
        ("s3://bucket/img/2.png", []),
        ("s3://bucket/img/3.jpeg", ["Gambling", "Gambling"]),
    ]
    text = manifests.write_groundtruth(entries)

    assert text.splitlines()[1] == (
        '{"source-ref":"s3://bucket/img/2.png","content-moderation-groundtruth":{"ModerationLabels":[]}}'
    )
    assert manifests.read_groundtruth(text.encode(), name="t") == [
        GroundTruthLine(1, "bucket", "img/1.jpg", ["Alcohol", "Violence"]),
        GroundTruthLine(2, "bucket", "img/2.png", []),
        GroundTruthLine(3, "bucket", "img/3.jpeg", ["Gambling"]),
    ]


def test_it_writes_backend_manifest_entries():
    from console.backends.base import ImageRef, ManifestEntry

    text = manifests.write_groundtruth([ManifestEntry(ImageRef("bucket", "x.jpg"), ["Alcohol"])])

    assert json.loads(text) == {
        "source-ref": "s3://bucket/x.jpg",
        "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Alcohol"}]},
    }


def test_it_reads_text_streams_binary_streams_and_skips_blank_lines():
    text = line("s3://bucket/1.jpg") + "\n\n  \n" + line("s3://bucket/2.jpg") + "\n\n"

    for data in (text, io.StringIO(text), io.BytesIO(text.encode()), "\ufeff" + text):
        assert [(e.line, e.key) for e in manifests.read_groundtruth(data)] == [(1, "1.jpg"), (4, "2.jpg")]


def test_it_maps_v6_top_level_names_to_v7():
    text = line(labels=["Suggestive", "Rude Gesture", "Explicit Nudity", "Nudity", "Drugs", "Tobacco"])

    [entry] = manifests.read_groundtruth(text)

    assert entry.labels == [
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Swimwear or Underwear",
        "Rude Gestures",
        "Explicit",
        "Drugs & Tobacco",
    ]


def test_it_refuses_a_label_at_the_wrong_level_with_the_reason():
    errors, _ = errors_of(line(labels=["Smoking"]))

    assert errors == [
        (1, "'Smoking' is a level-3 label; training labels are top-level categories (use 'Drugs & Tobacco')")
    ]


def test_it_reports_every_bad_line_with_its_number_and_reason():
    lines = [
        line("s3://bucket/ok.jpg"),  # 1 good
        '{"source-ref": "s3://bucket/2.jpg", ',  # 2
        "[1, 2]",  # 3
        json.dumps({"content-moderation-groundtruth": {"ModerationLabels": []}}),  # 4
        line("https://bucket/5.jpg"),  # 5
        line("s3://bucket/6.gif"),  # 6
        json.dumps({"source-ref": "s3://bucket/7.jpg"}),  # 7
        json.dumps(
            {"source-ref": "s3://bucket/8.jpg", "content-moderation-groundtruth": {"ModerationLabels": {}}}
        ),
        json.dumps(
            {
                "source-ref": "s3://bucket/9.jpg",
                "content-moderation-groundtruth": {"ModerationLabels": [{"N": 1}]},
            }
        ),
        line("s3://bucket/10.jpg", labels=["Foo"]),  # 10
        line("s3://bucket/11.jpg", labels=["Weapons"]),  # 11
        json.dumps(
            {
                "source-ref": "s3://bucket/12.jpg",
                "content-moderation-groundtruth": {"ModerationLabels": [{"Name": 3}]},
            }
        ),
        line("s3://other-bucket/13.jpg"),  # 13
        json.dumps({"source-ref": 14, "content-moderation-groundtruth": {"ModerationLabels": []}}),
        json.dumps(
            {
                "source-ref": "s3://bucket/15.jpg",
                "content-moderation-groundtruth": {"ModerationLabels": ["x"]},
            }
        ),
    ]

    errors, message = errors_of("\n".join(lines))

    assert [n for n, _ in errors] == list(range(2, 16))
    reasons = dict(errors)
    assert reasons[2].startswith("is not valid JSON")
    assert reasons[3] == "is not a JSON object"
    assert reasons[4] == "has no source-ref"
    assert "is not an s3://bucket/key URI" in reasons[5]
    assert reasons[6] == "source-ref 's3://bucket/6.gif' is not a .jpg, .jpeg or .png image"
    assert reasons[7] == "has no content-moderation-groundtruth"
    assert (
        reasons[8] == "content-moderation-groundtruth.ModerationLabels must be a list ([] for a safe image)"
    )
    assert reasons[9] == "label 1 has no Name"
    assert reasons[10] == "unknown label 'Foo'"
    assert "level-2 label" in reasons[11] and "'Violence'" in reasons[11]
    assert reasons[12] == "label 1: Name must be a string"
    assert "bucket 'other-bucket' but earlier images are in 'bucket'" in reasons[13]
    assert reasons[14] == "source-ref must be a string"
    assert reasons[15] == "label 1 must be an object with a Name"
    assert "train.manifest line 10: unknown label 'Foo'" in message.splitlines()


def test_it_refuses_more_than_10000_lines():
    text = manifests.write_groundtruth([(f"s3://bucket/{i}.jpg", []) for i in range(10_001)])

    errors, message = errors_of(text)

    assert errors == [(None, "has 10,001 lines; at most 10,000 are allowed")]
    assert message == "train.manifest: has 10,001 lines; at most 10,000 are allowed"


def test_it_refuses_a_manifest_over_50_mb():
    big = line() + "\n" + " " * manifests.MAX_BYTES  # one good line padded past the limit

    for data in (big.encode(), big, io.BytesIO(big.encode())):
        errors, _ = errors_of(data)
        assert errors == [(None, "is larger than 50 MB")]


def test_it_refuses_an_empty_manifest():
    assert errors_of(b"\n \n")[0] == [(None, "is empty: it has no JSON lines")]


def test_it_refuses_text_that_is_not_utf8():
    errors, _ = errors_of(b"\xff\xfe" + line().encode())
    assert errors[0][1].startswith("is not UTF-8 text")


def test_it_reads_10000_lines():  # how fast: make bench (the 10,000-line import)
    text = manifests.write_groundtruth(
        [(f"s3://bucket/img/{i}.jpg", ["Alcohol", "Suggestive"]) for i in range(10_000)]
    )
    entries = manifests.read_groundtruth(text.encode())
    assert len(entries) == 10_000 and entries[-1].key == "img/9999.jpg"


def test_it_round_trips_a_bulk_input_manifest_keeping_duplicates():
    uris = ["s3://bucket/a.jpg", "s3://bucket/b.png", "s3://bucket/a.jpg"]
    text = manifests.write_bulk_input(uris)

    assert text == "".join(f'{{"source-ref":"{u}"}}\n' for u in uris)
    assert [(e.line, e.uri) for e in manifests.read_bulk_input(text)] == list(enumerate(uris, start=1))


def test_it_reports_bad_bulk_input_lines():
    text = '{"source-ref": "s3://bucket/a.jpg"}\n{"source-ref": "s3://bucket/b.bmp"}\n{}\n'

    errors, _ = errors_of(text, manifests.read_bulk_input, "input.manifest")

    assert errors == [
        (2, "source-ref 's3://bucket/b.bmp' is not a .jpg, .jpeg or .png image"),
        (3, "has no source-ref"),
    ]


def test_a_bulk_input_manifest_reads_from_one_bucket_as_aws_does():
    text = manifests.write_bulk_input(["s3://bucket/a.jpg", "s3://other/b.jpg", "s3://bucket/c.jpg"])

    errors, _ = errors_of(text, manifests.read_bulk_input, "input.manifest")

    assert errors == [
        (
            2,
            "image is in bucket 'other' but earlier images are in 'bucket' "
            "(all images of a bulk analysis manifest must be in one bucket)",
        )
    ]


def test_it_round_trips_a_bulk_output_manifest():
    detection = {"ModerationLabels": [], "ModerationModelVersion": "7.0", "ContentTypes": []}
    text = manifests.write_bulk_output(
        [
            ("s3://bucket/1.jpg", {**detection, "ResponseMetadata": {}}),
            {"line": 2, "source-ref": "s3://bucket/2.jpg", "detect-moderation-labels": detection},
        ]
    )

    assert text.splitlines()[0] == (
        '{"source-ref":"s3://bucket/1.jpg","detect-moderation-labels":'
        '{"ModerationLabels":[],"ModerationModelVersion":"7.0","ContentTypes":[]}}'
    )
    lines = manifests.read_bulk_output(text)
    assert [(o.line, o.source_ref, o.detection) for o in lines] == [
        (1, "s3://bucket/1.jpg", detection),
        (2, "s3://bucket/2.jpg", detection),
    ]


def test_it_round_trips_a_summary_with_the_documented_line_numer_key():
    text = manifests.write_summary(
        3,
        [
            SummaryError(2, "s3://bucket/2.gif", "INVALID_IMAGE", "not an image"),
            {"line": 3, "code": "X", "message": "m"},
        ],
    )

    doc = json.loads(text)
    assert doc["statistics"] == {"total-json-lines": 3, "valid-json-lines": 1, "invalid-json-lines": 2}
    assert doc["errors"][0] == {
        "line-numer": 2,
        "source-ref": "s3://bucket/2.gif",
        "code": "INVALID_IMAGE",
        "message": "not an image",
    }
    summary = manifests.read_summary(text)
    assert (summary.total, summary.valid, summary.invalid) == (3, 1, 2)
    assert summary.errors[1] == SummaryError(3, "", "X", "m")


def test_it_reads_a_summary_spelled_line_number():
    text = json.dumps({"version": "1.0", "errors": [{"line-number": 7, "code": "C", "message": "M"}]})

    assert manifests.read_summary(text).errors == [SummaryError(7, "", "C", "M")]


def test_it_validates_s3_uris():
    assert manifests.parse_s3_uri("s3://my.bucket_1-x/a/b c.jpg") == ("my.bucket_1-x", "a/b c.jpg")
    for bad in (
        "s3://ab/key",
        "s3://bucket/",
        "s3://bucket",
        "http://bucket/k",
        "s3://bu!cket/k",
        "s3://bucket/" + "k" * 1025,
    ):
        with pytest.raises(ValueError):
            manifests.parse_s3_uri(bad)
