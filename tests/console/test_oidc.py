"""Sign-in with OpenID Connect: against a real provider (django-oidc-provider in its own process on
loopback, tests/identity_provider), through Debian's Chromium; and the ID token checks on tokens
signed here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.urls import reverse

from console import oidc
from console.models import AuditEntry, Profile, ProviderIdentity
from console.settings import _role_groups
from tests.conftest import ROOT, _die_with_parent, chromium_page, wait_for

CLIENT_ID, CLIENT_SECRET = "moderation-console", "client-secret-for-the-sign-in-tests-only"
ISSUER = "https://idp.example.com/realms/acme"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Provider:
    url: str
    env: dict

    @property
    def issuer(self) -> str:
        return f"{self.url}/openid"

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "django", *args], cwd=ROOT, env=self.env, check=True, capture_output=True
        )

    def set_user(self, name: str, groups: str) -> None:
        self.manage(
            "setup_provider",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--redirect-uri",
            self.env["CONSOLE_CALLBACK"],
            "--user",
            f"{name}:pw-{name}:{groups}",
        )


@pytest.fixture(scope="module")
def provider(live_server, tmp_path_factory):
    """A real OpenID Connect provider on loopback, its client registered for the live server."""
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tests.identity_provider.settings",
        "OIDC_PROVIDER_DIR": str(tmp_path_factory.mktemp("provider")),
        "OIDC_PROVIDER_URL": url,
        "CONSOLE_CALLBACK": live_server.url + "/oidc/callback/",
    }
    found = Provider(url, env)
    found.manage("migrate", "--verbosity", "0")
    found.set_user("alice", "console-managers,staff")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-b",
            url.removeprefix("http://"),
            "--workers",
            "1",
            "--threads",
            "4",
            "tests.identity_provider.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )

    def answers():
        try:
            return requests.get(f"{found.issuer}/.well-known/openid-configuration", timeout=5).ok
        except requests.RequestException:  # not listening yet, or too slow on a loaded machine
            return False

    try:
        wait_for(answers, timeout=120, message="the test identity provider")
        yield found
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def signed_in_with(settings, provider):
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Acme ID"
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_ROLE_GROUPS = {"console-managers": "manager", "console-viewers": "viewer"}
    settings.OIDC_DEFAULT_ROLE = "none"
    return provider


def sign_in_at_provider(page, name):
    page.goto("/")
    page.click("text=Sign in with Acme ID")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", f"pw-{name}")
    page.click("text=Sign in to the provider")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_signs_in_through_the_provider_maps_the_role_and_signs_out(
    live_server, signed_in_with, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread
    with chromium_page(live_server) as page:
        page.set_default_timeout(15_000)
        sign_in_at_provider(page, "alice")
        page.wait_for_selector(".topbar .user")
        assert page.locator(".topbar .user").inner_text() == "alice"
        assert page.url == live_server.url + reverse("console-home")

        user = get_user_model().objects.get(username="alice")
        assert (user.email, user.first_name, user.has_usable_password()) == (
            "alice@example.com",
            "Alice",
            False,
        )
        assert Profile.objects.get(user=user).role == Profile.Role.MANAGER
        identity = ProviderIdentity.objects.get(user=user)
        assert identity.issuer == signed_in_with.issuer and identity.subject
        assert AuditEntry.objects.filter(action="user.create", object_id=str(user.pk)).exists()

        page.click("text=Sign out")
        page.wait_for_url("**/login/")
        page.goto("/")
        assert "/login/" in page.url  # signed out of the console

        # The provider moves her to another group: the next sign-in (the provider's session is
        # still open, so no password) gives her the new role, and says so in the audit trail.
        signed_in_with.set_user("alice", "console-viewers")
        page.click("text=Sign in with Acme ID")
        page.wait_for_selector(".topbar .user")
        assert get_user_model().objects.filter(username="alice").count() == 1
        assert Profile.objects.get(user=user).role == Profile.Role.VIEWER
        change = AuditEntry.objects.get(action="user.role", object_id=str(user.pk))
        assert (change.detail["old"], change.detail["new"]) == ("manager", "viewer")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_token_from_another_issuer_and_a_person_without_a_mapped_group(
    live_server, signed_in_with, settings, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    signed_in_with.set_user("bob", "contractors")
    with chromium_page(live_server) as page:
        page.set_default_timeout(15_000)
        sign_in_at_provider(page, "bob")  # no group of bob's maps to a role, and the default is none
        page.wait_for_selector(".flash-error")
        assert "none of your groups gives a role in this console" in page.inner_text(".flash-error")
        assert not get_user_model().objects.filter(username="bob").exists()

        # The real provider's endpoints, but the console expects another issuer in the token.
        config = requests.get(f"{signed_in_with.issuer}/.well-known/openid-configuration", timeout=5).json()
        settings.OIDC_ISSUER = signed_in_with.url + "/other-realm"
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = config["authorization_endpoint"]
        settings.OIDC_OP_TOKEN_ENDPOINT = config["token_endpoint"]
        settings.OIDC_OP_USER_ENDPOINT = config["userinfo_endpoint"]
        settings.OIDC_OP_JWKS_ENDPOINT = config["jwks_uri"]
        signed_in_with.set_user("bob", "console-managers")
        page.goto("/login/")
        page.click("text=Sign in with Acme ID")
        page.wait_for_selector(".flash-error")
        assert "the ID token was refused: Invalid issuer" in page.inner_text(".flash-error")
        page.goto("/")
        assert "/login/" in page.url
        assert not get_user_model().objects.filter(username="bob").exists()


# ---------------------------------------------------------------- the ID token's checks


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def backend(settings, signing_key):
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = ISSUER + "/auth"
    settings.OIDC_OP_TOKEN_ENDPOINT = ISSUER + "/token"
    settings.OIDC_OP_USER_ENDPOINT = ISSUER + "/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = ISSUER + "/jwks"
    settings.OIDC_RP_IDP_SIGN_KEY = (
        signing_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    found = oidc.ProviderBackend()
    found.configure()  # as for a callback
    return found


def token(key, *, algorithm="RS256", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "u-1", "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=algorithm)


def test_it_accepts_an_id_token_for_this_client_from_the_issuer(backend, signing_key):
    assert backend.verify_token(token(signing_key), nonce="n-1")["sub"] == "u-1"
    both = token(signing_key, aud=[CLIENT_ID, "other"], azp=CLIENT_ID)
    assert backend.verify_token(both, nonce="n-1")["sub"] == "u-1"


@pytest.mark.parametrize(
    "overrides,reason",
    [
        ({"aud": "another-client"}, "Audience doesn't match"),
        ({"iss": "https://evil.example.com"}, "Invalid issuer"),
        ({"aud": None}, 'Token is missing the "aud" claim'),
        ({"iss": None}, 'Token is missing the "iss" claim'),
        ({"exp": int(time.time()) - 3600}, "Signature has expired"),
        ({"aud": [CLIENT_ID, "other"]}, "issued to another party (azp)"),
        ({"nonce": "replayed"}, "nonce does not match"),
    ],
)
def test_it_refuses_an_id_token_for_another_audience_or_issuer(backend, signing_key, overrides, reason):
    with pytest.raises(SuspiciousOperation, match=reason.replace("(", r"\(").replace(")", r"\)")):
        backend.verify_token(token(signing_key, **overrides), nonce="n-1")


def test_it_refuses_a_token_signed_by_another_key_or_with_another_algorithm(backend, settings):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SuspiciousOperation, match="Signature verification failed"):
        backend.verify_token(token(stranger), nonce="n-1")
    # The public key used as an HMAC secret, and no signature at all: the algorithm is the console's.
    with pytest.raises(SuspiciousOperation, match="signed with 'HS256', not RS256"):
        backend.verify_token(token(CLIENT_SECRET, algorithm="HS256"), nonce="n-1")
    unsigned = jwt.encode({"iss": ISSUER, "aud": CLIENT_ID, "sub": "u"}, None, algorithm="none")
    with pytest.raises(SuspiciousOperation, match="signed with 'none'"):
        backend.verify_token(unsigned, nonce="n-1")


# ---------------------------------------------------------------- roles, settings, the login page


def test_the_highest_mapped_group_gives_the_role(settings):
    settings.OIDC_ROLE_GROUPS = {"labelers": "annotator", "leads": "manager", "ops": "admin"}
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_DEFAULT_ROLE = "viewer"
    assert oidc.role_for({"groups": ["labelers", "leads"]}) == "manager"
    assert oidc.role_for({"groups": "ops"}) == "admin"
    assert oidc.role_for({"groups": ["someone-else"]}) == "viewer"
    assert oidc.role_for({}) == "viewer"
    settings.OIDC_DEFAULT_ROLE = "none"
    assert oidc.role_for({"groups": ["someone-else"]}) is None
    settings.OIDC_GROUPS_CLAIM = "realm_access.roles"  # Keycloak's realm roles
    assert oidc.role_for({"realm_access": {"roles": ["labelers"]}}) == "annotator"


def test_a_bad_role_mapping_is_refused_naming_the_entry():
    assert _role_groups("a=viewer, b c=manager") == {"a": "viewer", "b c": "manager"}
    with pytest.raises(ImproperlyConfigured, match="'moderators=boss' must be group=role"):
        _role_groups("a=viewer,moderators=boss")
    with pytest.raises(ImproperlyConfigured, match="'admins' must be group=role"):
        _role_groups("admins")


@pytest.mark.django_db
def test_an_admin_from_the_provider_is_staff_until_the_provider_says_otherwise():
    claims = {"sub": "s-9", "preferred_username": "carol", "email": "carol@example.com"}
    user = oidc.sign_in(issuer=ISSUER, claims=claims, role="admin")
    assert (user.is_staff, user.is_superuser, Profile.objects.get(user=user).role) == (True, True, "admin")
    again = oidc.sign_in(issuer=ISSUER, claims=claims, role="annotator")
    again.refresh_from_db()
    assert again.pk == user.pk and (again.is_staff, again.is_superuser) == (False, False)
    assert Profile.objects.get(user=user).role == "annotator"


@pytest.mark.django_db
def test_a_provider_account_never_takes_over_a_local_account_with_its_name_or_email(owner):
    owner.email = "owner@example.com"
    owner.save()
    claims = {"sub": "s-1", "preferred_username": "owner", "email": "owner@example.com"}
    user = oidc.sign_in(issuer=ISSUER, claims=claims, role="viewer")
    assert user.pk != owner.pk and user.username == "owner-2"
    # Same name and e-mail, another issuer: another person.
    assert oidc.sign_in(issuer="https://other.example.com", claims=claims, role="viewer").pk != user.pk


@pytest.mark.django_db
def test_the_login_page_offers_the_provider_when_configured(client, settings):
    assert b"Sign in with" not in client.get(reverse("login")).content
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    settings.OIDC_ISSUER, settings.OIDC_RP_CLIENT_ID = ISSUER, CLIENT_ID
    settings.OIDC_PROVIDER_NAME = "Acme ID"
    page = client.get(reverse("login") + "?next=/bulk-analysis/").content.decode()
    assert "Sign in with Acme ID" in page and 'name="password"' in page
    assert reverse("oidc_authentication_init") + "?next=/bulk-analysis/" in page


@pytest.mark.django_db
def test_with_local_sign_in_off_no_password_signs_anyone_in(client, settings, owner, staff):
    settings.OIDC_ISSUER, settings.OIDC_RP_CLIENT_ID = ISSUER, CLIENT_ID
    settings.OIDC_PROVIDER_NAME = "Acme ID"
    settings.LOCAL_LOGIN = False
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with Acme ID" in page and 'name="password"' not in page
    response = client.post(reverse("login"), {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 403 and b"Sign-in with a password is turned off" in response.content
    client.post(reverse("admin:login"), {"username": "staff", "password": "pw-staff"})
    assert client.get(reverse("console-home")).status_code == 302  # still signed out
    assert client.get(reverse("admin:index")).status_code == 302
