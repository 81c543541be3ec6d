"""moderation.snapshots: the diff of two frozen datasets, their label counts and evaluations (no Django)."""

from moderation import snapshots
from moderation.manifests import GroundTruthLine, read_groundtruth, write_groundtruth
from moderation.snapshots import ADDED, BOTH, LABELS, LABELS_AND_SPLIT, REMOVED, SAFE, SPLIT
from tests.adapters.conftest import finished_evaluation

SHA = {name: name * 64 for name in "abcdefg"}


def lines(*items) -> list[GroundTruthLine]:
    return read_groundtruth(write_groundtruth((f"s3://bucket/{ref}", labels) for ref, labels in items))


def test_it_finds_added_removed_relabeled_and_moved_images():
    before = snapshots.snapshot(
        lines(("v1/a.jpg", ["Alcohol"]), ("v1/b.jpg", []), ("v1/c.jpg", ["Violence"]), ("v1/d.jpg", [])),
        lines(("v1/e.jpg", ["Alcohol"])),
        identity=lambda ref: ref.rsplit("/", 1)[-1],
    )
    after = snapshots.snapshot(
        lines(("v2/a.jpg", ["Alcohol"]), ("v2/b.jpg", ["Alcohol"]), ("v2/e.jpg", ["Alcohol"])),
        lines(("v2/d.jpg", []), ("v2/f.jpg", ["Drugs & Tobacco"]), ("v2/c.jpg", [])),
        identity=lambda ref: ref.rsplit("/", 1)[-1],
    )
    diff = snapshots.diff(before, after)
    kinds = {c.key: c.kind for c in diff.changes}
    assert kinds == {
        "b.jpg": LABELS,
        "c.jpg": LABELS_AND_SPLIT,
        "d.jpg": SPLIT,
        "e.jpg": SPLIT,
        "f.jpg": ADDED,
    }
    assert diff.unchanged == 1  # a.jpg, under another ref
    assert [c.kind for c in diff.changes] == [ADDED, LABELS, SPLIT, SPLIT, LABELS_AND_SPLIT]
    line = next(c for c in diff.changes if c.key == "c.jpg").as_json()
    assert line == {
        "ref": "s3://bucket/v2/c.jpg",
        "ref_before": "s3://bucket/v1/c.jpg",
        "image": "c.jpg",
        "change": LABELS_AND_SPLIT,
        "labels_before": ["Violence"],
        "labels_after": [],
        "split_before": "train",
        "split_after": "test",
    }
    removed = snapshots.diff(after, before).of(REMOVED)
    assert [c.as_json()["labels_after"] for c in removed] == [None]
    assert removed[0].ref == "s3://bucket/v2/f.jpg"


def test_it_knows_an_image_by_the_identity_it_is_given_else_by_the_sha256_in_its_name():
    identity = {"s3://bucket/x/photo.jpg": SHA["a"]}
    before = snapshots.snapshot(lines(("x/photo.jpg", ["Alcohol"]), ("x/other.jpg", [])), identity=identity)
    after = snapshots.snapshot(lines((f"y/{SHA['a']}.jpg", ["Alcohol"]), ("y/other.jpg", [])))
    diff = snapshots.diff(before, after)
    assert [(c.kind, c.key) for c in diff.changes] == [
        (ADDED, "s3://bucket/y/other.jpg"),
        (REMOVED, "s3://bucket/x/other.jpg"),  # no identity, no sha256 in its name: its ref
    ]
    assert diff.unchanged == 1


def test_an_image_in_both_sets_or_listed_twice_is_one_image():
    items = snapshots.snapshot(
        lines(("a.jpg", ["Alcohol"]), ("a.jpg", ["Drugs & Tobacco"])),
        lines(("a.jpg", ["Alcohol"])),
        identity={},
    )
    assert list(items.values()) == [
        snapshots.Item("s3://bucket/a.jpg", "s3://bucket/a.jpg", ("Alcohol", "Drugs & Tobacco"), BOTH)
    ]
    assert snapshots.label_counts(items)["Alcohol"] == {"train": 1, "test": 1, "total": 1}


def test_it_counts_images_per_label_and_split_in_each_snapshot():
    before = snapshots.snapshot(lines(("a.jpg", ["Alcohol"]), ("b.jpg", [])), lines(("c.jpg", ["Alcohol"])))
    after = snapshots.snapshot(lines(("a.jpg", ["Alcohol", "Violence"])))
    rows = {row["label"]: row for row in snapshots.count_rows(before, after)}
    assert list(rows) == ["Alcohol", "Violence", SAFE]
    assert rows["Alcohol"]["before"] == {"train": 1, "test": 1, "total": 2}
    assert rows["Alcohol"]["after"] == {"train": 1, "test": 0, "total": 1}
    assert rows["Alcohol"]["change"] == -1
    assert rows["Violence"]["before"] == {"train": 0, "test": 0, "total": 0}
    assert rows[SAFE]["change"] == -1


def test_it_reads_f1_precision_and_recall_from_the_evaluation_document():
    doc = finished_evaluation("arn:aws:rekognition:x", threshold=50.0)
    scores = snapshots.scores(doc)
    assert scores is not None
    # At 50: the adapter flags 4 of 5 Alcohol images and 1 of 5 safe ones (tests/adapters/conftest.py).
    assert scores["overall"] == {"f1": 0.8, "precision": 0.8, "recall": 0.8}
    assert scores["labels"]["Alcohol"] == {"f1": 0.8, "precision": 0.8, "recall": 0.8}
    assert scores["threshold"] == 50.0 and scores["test_images"] == 10
    assert snapshots.scores(None) is None
    rows = snapshots.score_rows(scores, None)
    assert rows == [{"label": "Alcohol", "before": scores["labels"]["Alcohol"], "after": None}]


def test_an_empty_diff_says_nothing_changed():
    items = snapshots.snapshot(lines(("a.jpg", [])))
    diff = snapshots.diff(items, items)
    assert diff.changes == [] and diff.unchanged == 1 and diff.count(ADDED, REMOVED) == 0
