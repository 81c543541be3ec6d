"""Real Chromium: a project made through the console has one ARN, on the landing page, the
project page, the adapter's Details tab and the API's DescribeProjects answer."""

import pytest

from projects.services import create_project
from tests.adapters.conftest import make_adapter
from tests.conftest import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def made(owner):
    project = create_project(user=owner, name="wine-policy")
    return project, make_adapter(project)


def test_every_page_shows_the_one_arn(made, live_server, owner):
    project, adapter = made
    assert project.remote_arn == project.arn  # the local backend mints no second ARN
    with chromium_page(live_server, owner) as page:
        for url in ("/", f"/projects/{project.pk}/", f"/adapters/{adapter.pk}/?tab=details"):
            page.goto(f"{live_server.url}{url}")
            text = page.locator("main").inner_text()
            arns = {
                w
                for w in text.split()
                if w.startswith("arn:aws:rekognition") and "/wine-policy/" in w and "/version/" not in w
            }
            assert arns == {project.arn}, (url, arns)


@pytest.fixture
def empty_project(owner):
    return create_project(user=owner, name="to-delete")


def test_deleting_a_project_asks_first(empty_project, live_server, owner):
    with chromium_page(live_server, owner) as page:
        page.goto(f"{live_server.url}/projects/{empty_project.pk}/")
        page.click("text=Delete project")
        page.wait_for_selector("h1:has-text('Delete project to-delete?')")
        page.click("#delete-project >> text=Cancel")
        page.wait_for_url(f"**/projects/{empty_project.pk}/")  # still there
        page.click("text=Delete project")
        page.click("#delete-project button.danger")
        page.wait_for_selector("text=Project to-delete deleted.")
        assert page.goto(f"{live_server.url}/projects/{empty_project.pk}/").status == 404
