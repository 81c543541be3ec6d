"""Real Chromium, issue 14's traps: each test failed before its fix."""

import pytest

from tests.bulk_analysis.conftest import finished_job
from tests.conftest import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server, owner):
    with chromium_page(live_server, owner) as page:
        yield page


def slide(page, value):
    page.eval_on_selector(
        "#threshold-slider",
        f"el => {{ el.value = {value}; el.dispatchEvent(new Event('input'));"
        " el.dispatchEvent(new Event('change')); }",
    )


@pytest.fixture
def chips_job(owner):
    return finished_job(owner, [{"Alcohol": 88.6}, {"Alcohol": 60.0}, {}], min_confidence=50)


# The jobs are made before Playwright starts: its event loop forbids the ORM in this thread.
def test_bulk_cards_and_tabs_follow_the_slider(chips_job, page, live_server):
    page.goto(f"{live_server.url}/bulk-analysis/{chips_job.pk}/?threshold=70")
    card2 = page.locator("#prediction-grid .card[data-line='2']")
    # below the threshold: the chip is hidden, "No label" shows instead
    assert not card2.locator("[data-conf]").is_visible()
    assert card2.locator("[data-safe]").is_visible()
    card1 = page.locator("#prediction-grid .card[data-line='1']")
    assert card1.locator("[data-conf]").is_visible() and not card1.locator("[data-safe]").is_visible()
    slide(page, 55)
    assert card2.locator("[data-conf]").is_visible() and not card2.locator("[data-safe]").is_visible()

    # the Flagged tab at the slider's threshold, and it follows the slider
    page.click("nav.tabs >> text=Flagged")
    page.wait_for_url("**flag=flagged**")
    assert page.locator("#prediction-grid .card").count() == 2
    slide(page, 70)
    page.wait_for_url("**threshold=70**")
    page.wait_for_function("document.querySelectorAll('#prediction-grid .card').length === 1")
    page.click("nav.tabs >> text=Unflagged")
    page.wait_for_url("**flag=unflagged**")
    assert page.locator("#prediction-grid .card").count() == 2


@pytest.fixture
def verify_job(owner):
    return finished_job(owner, [{"Alcohol": 80.0}, {"Alcohol": 65.0}, {}, {"Explicit": 90.0}])


def test_verify_click_targets_menu_buttons_slider(verify_job, page, live_server):
    job = verify_job
    page.goto(f"{live_server.url}/verify/{job.pk}/")
    page.wait_for_selector("#card-1.focused")
    # a click on a card makes it the keyboard's target: C then acts on card 2, not card 1
    page.click("#card-2 .chip")
    assert "focused" in page.get_attribute("#card-2", "class")
    page.keyboard.press("c")
    page.wait_for_selector("#card-2 [data-action=correct][aria-pressed=true]")
    assert page.locator("#card-1 [aria-pressed=true]").count() == 0

    # the pressed ✓ and ✗ look unlike the unpressed ones, and say what they do
    pressed = page.locator("#card-2 [data-action=correct]")
    plain = page.locator("#card-1 [data-action=correct]")
    bg = "el => getComputedStyle(el).backgroundColor"
    assert pressed.evaluate(bg) != plain.evaluate(bg)
    assert plain.get_attribute("aria-label") == "Alcohol is correct"
    assert (
        page.locator("#card-1 [data-action=incorrect]").get_attribute("aria-label") == "Alcohol is incorrect"
    )

    # the add-label menu starts on no label: Add without choosing adds nothing
    assert page.input_value("#assign-3") == ""
    page.click("#card-3 [data-action=add]")
    page.focus("#assign-3")
    page.keyboard.press("Enter")
    assert page.locator("#card-3 li[data-verdict=added]").count() == 0
    page.select_option("#assign-3", "Gambling")
    page.click("#card-3 [data-action=add]")
    page.wait_for_selector("#card-3 li[data-label=Gambling][data-verdict=added]")

    # the blur stays inside its card
    thumb = page.locator("#card-4 img.blurred").locator("xpath=..")
    assert thumb.evaluate("el => getComputedStyle(el).overflow") == "hidden"

    # the threshold is a slider, applied on release
    assert page.get_attribute("#threshold", "type") == "range"
    page.eval_on_selector(
        "#threshold",
        "el => { el.value = 70; el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); }",
    )
    page.wait_for_url("**threshold=70**")
    assert page.locator("#threshold-value").inner_text() == "70"


def test_bulk_and_verify_cards_name_their_files(chips_job, page, live_server):
    page.goto(f"{live_server.url}/bulk-analysis/{chips_job.pk}/")
    card = page.locator("#prediction-grid .card[data-line='1']")
    assert "img0.jpg" in card.inner_text()
    assert card.locator("img").get_attribute("alt") == "img0.jpg: predicted Alcohol"
    page.goto(f"{live_server.url}/verify/{chips_job.pk}/")
    assert "img1.jpg" in page.locator("#card-2").inner_text()
    assert page.locator("#card-3 img").get_attribute("alt") == "img2.jpg: no label predicted"


@pytest.fixture
def verified_job(owner):
    from verification import services

    job = finished_job(owner, [{"Alcohol": 80.0}, {"Alcohol": 65.0}, {}])
    first, second = job.predictions.order_by("line")[:2]
    services.set_verdict(user=owner, prediction=first, label="Alcohol", verdict="correct", threshold=50)
    services.set_verdict(user=owner, prediction=second, label="Alcohol", verdict="incorrect", threshold=50)
    return job


def test_bulk_details_show_per_label_performance(verified_job, page, live_server):
    page.goto(f"{live_server.url}/bulk-analysis/{verified_job.pk}/")
    page.wait_for_selector("#performance #per-label tr[data-label='Alcohol']")
    row = "#per-label tr[data-label='Alcohol'] td[data-stat='{}']"
    assert page.inner_text(row.format("tp")) == "1" and page.inner_text(row.format("fp")) == "1"


@pytest.fixture
def quick_job(owner):
    return finished_job(owner, [{"Alcohol": 80.0 + i} for i in range(8)])


def test_the_performance_panel_ends_on_the_last_verdict(quick_job, page, live_server):
    """Verdicts in quick succession: the panel's last refresh is the last verdict's (htmx's
    default drops a refresh asked for while one is in flight)."""
    page.goto(f"{live_server.url}/verify/{quick_job.pk}/")
    page.wait_for_selector("#card-1.focused")
    for line in range(1, 9):
        page.keyboard.press("c")
        page.wait_for_selector(f"#card-{line} [data-action=correct][aria-pressed=true]")
        page.keyboard.press("j")
    page.wait_for_selector("#performance:has-text('8 of 8 images verified')")
    assert page.inner_text("#per-label tr[data-label='Alcohol'] td[data-stat='tp']") == "8"


def test_the_train_form_is_styled_as_the_create_project_wizard(chips_job, page, live_server):
    style = "el => { const s = getComputedStyle(el); return [s.backgroundColor, s.borderRadius, s.borderTopStyle]; }"
    radio = "el => getComputedStyle(el).fontWeight"
    page.goto(f"{live_server.url}/projects/new/")
    wizard = page.locator("fieldset.panel").first.evaluate(style)
    wizard_radio = page.locator("label.choice").first.evaluate(radio)
    page.goto(f"{live_server.url}/verify/{chips_job.pk}/train/")
    fieldsets = page.locator("#train-from-verification fieldset")
    assert fieldsets.count() == 5
    for i in range(5):
        assert fieldsets.nth(i).evaluate(style) == wizard
    assert (
        page.locator("#train-from-verification label:has(input[name=project_choice])").first.evaluate(radio)
        == wizard_radio
    )


def test_keyboard_shortcuts_can_be_turned_off(verify_job, page, live_server):
    page.goto(f"{live_server.url}/verify/{verify_job.pk}/")
    page.wait_for_selector("#card-1.focused")
    page.uncheck("#shortcuts-toggle")
    page.locator("#card-1 .chip").first.click()
    page.keyboard.press("c")
    page.keyboard.press("j")
    assert "focused" in page.get_attribute("#card-1", "class")  # j did not move
    page.reload()
    page.wait_for_selector("#card-1.focused")
    assert not page.is_checked("#shortcuts-toggle")  # remembered
    assert page.locator("#card-1 [aria-pressed=true]").count() == 0  # c did nothing
    page.check("#shortcuts-toggle")
    page.locator("#card-1 .chip").first.click()
    page.keyboard.press("c")
    page.wait_for_selector("#card-1 [data-action=correct][aria-pressed=true]")


@pytest.fixture
def explicit_job(owner):
    return finished_job(owner, [{"Explicit": 90.0}, {"Alcohol": 70.0}, {"Explicit": 80.0}])


def test_reveal_by_key_and_rehide_on_leaving(explicit_job, page, live_server):
    page.goto(f"{live_server.url}/bulk-analysis/{explicit_job.pk}/")
    img = page.locator(".card[data-line='1'] img")
    assert "blurred" in img.get_attribute("class")
    page.focus(".card[data-line='1'] a")
    page.keyboard.press("Enter")  # reveals, does not open the image
    assert "blurred" not in img.get_attribute("class") and len(page.context.pages) == 1
    page.focus(".card[data-line='2'] a")  # leaving the card hides it again
    assert "blurred" in img.get_attribute("class")

    page.goto(f"{live_server.url}/verify/{explicit_job.pk}/")
    page.wait_for_selector("#card-1.focused")
    page.keyboard.press("r")
    assert "blurred" not in page.get_attribute("#card-1 img", "class")
    page.keyboard.press("j")
    assert "blurred" in page.get_attribute("#card-1 img", "class")
