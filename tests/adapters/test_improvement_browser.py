"""Real Chromium: an adapter with a false positive where the base model had none shows the
regression on its page and in the project's table, not "n/a" or "—"."""

import pytest

from adapters.models import Adapter
from moderation.engine.evaluation import evaluate
from tests.adapters.conftest import make_adapter
from tests.conftest import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def regressed(project):
    adapter = make_adapter(project, "regressed", status=Adapter.Status.TRAINING_COMPLETED)
    adapter.evaluation = evaluate(
        truth=[["Alcohol"], []],
        base=[{"Alcohol": 80}, {"Alcohol": 10}],  # base: no false positive at 50
        adapter=[{"Alcohol": 90}, {"Alcohol": 60}],  # adapter: one
        labels=["Alcohol"],
        threshold=50.0,
        adapter_arn=adapter.arn,
        training_images=4,
    )
    adapter.save()
    return adapter


def test_a_new_false_positive_is_shown(regressed, live_server, owner):
    with chromium_page(live_server, owner) as page:
        page.goto(f"{live_server.url}/adapters/{regressed.pk}/")
        assert page.locator("#fp-improvement").inner_text() == "1 new false positive"
        assert page.locator("#fn-improvement").inner_text() == "no false negatives either way"
        page.goto(f"{live_server.url}/projects/{regressed.project.pk}/")
        assert page.locator("td[data-improvement=fp]").inner_text() == "1 new false positive"
