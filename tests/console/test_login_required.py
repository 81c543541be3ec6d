"""Every URL of the URL configuration refuses an anonymous user.

The test walks the URL conf, so a page added later is covered without anyone
remembering to add it here.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Pages anyone may open, and the API, which refuses without a signature instead of redirecting.
PUBLIC = {"login", "console-healthz"}
API = {"api-rekognition", "api-rekognition-noslash"}


def walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.name


def concrete(route: str) -> str:
    """A URL for a route pattern: each converter becomes a plausible value."""
    route = route.lstrip("^").rstrip("$").replace("\\Z", "")
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<(?:str|slug):\w+>", "x", route)
    route = re.sub(r"<path:\w+>", "x/y", route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)  # admin's regex routes
    route = route.replace("\\", "")
    return "/" + route


ROUTES = sorted({(concrete(route), name) for route, name in walk(get_resolver().url_patterns)})
PRIVATE_ROUTES = [(url, name) for url, name in ROUTES if name not in PUBLIC]


def test_the_walk_finds_the_console_pages():
    names = {name for _, name in ROUTES}
    assert {"console-home", "projects-new", "bulk-list", "console-notifications"} <= names


@pytest.mark.django_db
def test_only_the_login_page_and_the_health_check_are_public(client):
    assert {name for _, name in ROUTES} >= PUBLIC
    assert client.get("/login/").status_code == 200
    assert client.get("/healthz").content == b"ok"


@pytest.mark.django_db
@pytest.mark.parametrize("url,name", PRIVATE_ROUTES)
def test_it_refuses_anonymous_users(client, url, name):
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if name in API:
            assert response.status_code in (400, 403), (method, url)
            continue
        assert response.status_code in (302, 404, 405), (method, url, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response["Location"], (method, url)
        # A 404 or 405 must come from routing, never from a page rendered to an anonymous user.
        assert b"Sign out" not in response.content
