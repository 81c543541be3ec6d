"""Real Chromium, reviewer agreement (issue 18): a manager asks for a second review on the verify
page, two reviewers in two browsers work the queue (the second gets the first's image blind),
and the manager decides the disagreement on the agreement page."""

import pytest

from tests.bulk_analysis.conftest import finished_job
from tests.review.test_queue_browser import held, two_reviewers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def job(owner, annotator):
    return finished_job(owner, [{"Alcohol": 80.0}, {}])


def test_a_second_review_goes_blind_to_the_other_reviewer_and_the_manager_decides(
    job, live_server, owner, annotator
):
    with two_reviewers(live_server, owner, annotator) as (a, b):
        a.goto(f"/verify/{job.pk}/")
        a.fill("#share", "100")
        a.click("#second-review-share button")
        a.wait_for_selector(".flash-success")
        assert "asked of 100%" in a.inner_text("#second-review-panel")

        a.click("#start-reviewing")
        a.wait_for_selector("#submit-next")
        assert held(a) == "1"
        a.click("#card-1 [data-action=correct]")
        a.wait_for_selector("#card-1 [data-action=correct][aria-pressed=true]")
        a.click("#submit-and-next")
        a.wait_for_selector("#card-2")  # the owner holds line 2 now

        # The annotator is handed line 1 for its second review, without the owner's verdict.
        b.goto(f"/verify/{job.pk}/queue/?threshold=50")
        b.wait_for_selector("#second-review")
        assert b.get_attribute("#second-review input[name=line]", "value") == "1"
        assert b.query_selector("[data-verdict]") is None
        assert b.is_checked("#second-review input[value=Alcohol]")  # as predicted, not as verdicted
        b.uncheck("#second-review input[value=Alcohol]")
        b.click("#submit-second")
        b.wait_for_selector("#queue-empty")  # line 2 is held by the owner

        a.click("#submit-and-next")
        a.wait_for_selector("#queue-empty")  # line 2 waits for a second review, not from its first reviewer
        b.goto(f"/verify/{job.pk}/queue/?threshold=50")
        b.wait_for_selector("#second-review")
        assert b.get_attribute("#second-review input[name=line]", "value") == "2"
        b.click("#submit-second")  # nothing there: agrees
        b.wait_for_selector("#queue-empty")

        a.goto(f"/verify/{job.pk}/agreement/")
        a.wait_for_selector("#disagreement-1")
        assert a.query_selector("#disagreement-2") is None
        assert a.inner_text("#disagreement-1 [data-review=first]") == "Alcohol"
        assert a.inner_text("#disagreement-1 [data-review=second]") == "no label (safe)"
        assert a.inner_text("#agreement-labels tr[data-label=Alcohol] [data-stat=share]") == "50% (1/2)"
        assert (
            a.inner_text("#agreement-reviewers tr[data-reviewer=annotator] [data-stat=share]") == "50% (1/2)"
        )

        a.uncheck("#disagreement-1 input[value=Alcohol]")
        a.click("#disagreement-1 [data-action=decide]")
        a.wait_for_selector("#no-disagreements")
        a.goto(f"/verify/{job.pk}/")
        a.wait_for_selector(
            "#card-1 [data-action=incorrect][aria-pressed=true]"
        )  # the decision is the verdict
