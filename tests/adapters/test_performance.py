"""The pure helpers behind the adapter page: counts per threshold, recommendations, charts, test rows."""

from adapters import performance
from tests.adapters.conftest import finished_evaluation, finished_test_results

ARN = "arn:aws:rekognition:us-east-1:000000000000:project/shop/version/v1/1"


def test_it_lists_the_evaluated_thresholds_plus_the_training_one():
    doc = finished_evaluation(ARN, threshold=62.5)
    ts = performance.thresholds(doc)
    assert ts[0] == 5.0 and ts[-1] == 100.0 and 62.5 in ts and len(ts) == 21
    assert performance.nearest_threshold(doc, None) == 62.5
    assert performance.nearest_threshold(doc, 51) == 50.0


def test_it_counts_flagged_and_errors_at_a_threshold():
    doc = finished_evaluation(ARN)
    at50 = performance.summary(performance.counts_by_threshold(doc)[50.0]["Alcohol"])
    # adapter: Alcohol 95 90 85 70 30 -> 4 TP 1 FN; safe 60 20 10 5 0 -> 1 FP
    assert at50 == {
        "flagged": 5, "unflagged": 5, "base_flagged": 4, "fp": 1, "fn": 1, "tp": 4,
        "base_fp": 2, "base_fn": 3, "base_tp": 2,
    }  # fmt: skip
    at90 = performance.summary(performance.counts_by_threshold(doc)[90.0]["All"])
    assert (at90["flagged"], at90["fn"], at90["fp"]) == (2, 3, 0)


def test_it_recommends_the_threshold_with_fewest_errors_in_words():
    doc = finished_evaluation(ARN)
    rec = performance.recommend(doc, "Alcohol")
    # One error at 25 and 30 (FP 1, FN 0) and at 65 and 70 (FN 1, FP 0): fewer missed images
    # win, then the threshold nearest the training one (50).
    assert rec.threshold == 30.0
    assert rec.text == "at 30: catches 5 of 5 Alcohol images, flags 1 safe one"
    assert performance.recommend(doc, "Drugs") is None


def test_it_draws_fp_and_fn_against_threshold():
    chart = performance.chart(finished_evaluation(ARN), "Alcohol", width=95, height=10)
    points = chart["lines"]["adapter_fn"].split()
    assert (
        len(points) == 20 and points[0] == "0.0,10.0" and points[-1] == "95.0,0.0"
    )  # FN 0 at 5, all 5 at 100
    assert chart["max"] == 5


def test_it_finds_test_images_whose_result_flipped():
    rows = performance.test_rows(finished_test_results(ARN), ["Alcohol"], 50.0)
    assert len(rows) == 10
    flipped = [r["name"] for r in rows if r["flipped"]]
    # Alcohol: base 40, 20 -> adapter 85, 70; safe: base 55 -> adapter 20. All three fixed by the adapter.
    assert flipped == ["t2.jpg", "t3.jpg", "t6.jpg"]
    assert all(r["adapter_correct"] and not r["base_correct"] for r in rows if r["flipped"])
    assert rows[0]["truth"] == ["Alcohol"] and rows[0]["adapter"] == [("Alcohol", 95.0)]
