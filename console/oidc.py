"""Sign-in through an OpenID Connect provider (Keycloak, Okta, Entra ID, Google...), with
mozilla-django-oidc: its authorization code flow (with PKCE), its callback and its backend,
configured from settings (README, "Sign-in with OpenID Connect").

What this module adds to the library:
- discovery: endpoints not set explicitly are read once per process from the issuer's
  /.well-known/openid-configuration, whose `issuer` must be OIDC_ISSUER;
- the ID token's audience (the client id), issuer, expiry and `azp` are checked (the library
  checks only the signature, the expiry and the nonce);
- people are found by (issuer, subject), never by e-mail: a provider account whose e-mail claim
  matches a local account (the admin's) does not take it over;
- the role comes from the groups claim on every sign-in (OIDC_ROLE_GROUPS), and changes are
  written in the audit trail.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from console.models import Profile, ProviderIdentity, record

log = logging.getLogger(__name__)

# mozilla-django-oidc's endpoint settings and the discovery document's names for them.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
# Clock difference tolerated between the provider and the console on exp, iat and nbf.
LEEWAY_SECONDS = 60

_discovery: dict[str, dict[str, Any]] = {}


class ProviderError(Exception):
    """The provider could not be reached or answered something unusable."""


class Refused(Exception):
    """The provider vouched for the person, but the console's settings give them no role."""


def enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID and settings.OIDC_ISSUER)


def provider_config() -> dict[str, Any]:
    """The issuer's discovery document, fetched once per process (not at import)."""
    issuer = settings.OIDC_ISSUER
    if issuer not in _discovery:
        url = f"{issuer}/.well-known/openid-configuration"
        try:
            response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderError(f"could not read {url}: {exc}") from exc
        if document.get("issuer") != issuer:
            raise ProviderError(
                f"{url} names the issuer {document.get('issuer')!r}, not OIDC_ISSUER {issuer!r}"
            )
        _discovery[issuer] = document
    return _discovery[issuer]


def setting(name: str, *default):
    """A mozilla-django-oidc setting; an endpoint left empty comes from discovery."""
    value = import_from_settings(name, *default)
    if name in DISCOVERED and not value:
        value = provider_config().get(DISCOVERED[name])
        if not value:
            raise ProviderError(f"the provider's discovery document has no {DISCOVERED[name]}")
    return value


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested claims (Keycloak's realm_access.roles)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def role_for(claims: dict[str, Any]) -> str | None:
    """The highest role any of the person's groups maps to; else OIDC_DEFAULT_ROLE (None: refused)."""
    groups = _claim(claims, settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    roles = [
        settings.OIDC_ROLE_GROUPS[g] for g in groups if isinstance(g, str) and g in settings.OIDC_ROLE_GROUPS
    ]
    if roles:
        return max(roles, key=lambda role: Profile.RANK[role])
    return None if settings.OIDC_DEFAULT_ROLE == "none" else settings.OIDC_DEFAULT_ROLE


def _free_username(claims: dict[str, Any]) -> str:
    User = get_user_model()
    wanted = claims.get("preferred_username") or (claims.get("email") or "").split("@")[0] or claims["sub"]
    base = re.sub(r"[^\w.@+-]", "-", str(wanted))[:140] or "user"
    name, n = base, 1
    while User.objects.filter(username=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


@transaction.atomic
def sign_in(*, issuer: str, claims: dict[str, Any], role: str):
    """The console user for this provider account: created on the first sign-in, and on every
    sign-in given the role the provider's groups map to (admin: staff and superuser)."""
    User = get_user_model()
    subject = str(claims["sub"])
    identity = (
        ProviderIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    details = {
        "email": claims.get("email") or "",
        "first_name": (claims.get("given_name") or "")[:150],
        "last_name": (claims.get("family_name") or "")[:150],
    }
    admin = role == Profile.Role.ADMIN
    if identity is None:
        user = User.objects.create_user(
            _free_username(claims), password=None, is_staff=admin, is_superuser=admin, **details
        )
        identity = ProviderIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        Profile.objects.create(user=user, role=role)
        record(user, "user.create", user, source="oidc", issuer=issuer, role=role)
    else:
        user = identity.user
        changed = {
            k: v
            for k, v in {**details, "is_staff": admin, "is_superuser": admin}.items()
            if getattr(user, k) != v
        }
        if changed:
            for key, value in changed.items():
                setattr(user, key, value)
            user.save(update_fields=list(changed))
        profile = Profile.for_user(user)
        if profile.role != role:
            record(user, "user.role", user, source="oidc", issuer=issuer, old=profile.role, new=role)
            profile.role = role
            profile.save(update_fields=["role"])
    identity.last_sign_in_at = timezone.now()
    identity.save(update_fields=["last_sign_in_at"])
    return user


class PasswordBackend(ModelBackend):
    """Local user names and passwords, while LOCAL_LOGIN is on: off, no password signs anyone in,
    on the console's login page or on the Django admin's."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.LOCAL_LOGIN:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class ProviderBackend(OIDCAuthenticationBackend):
    """The OpenID Connect callback's backend. Configured when a callback arrives, not when
    Django builds it (it does for every password sign-in too), so a provider that is down or
    not configured costs password sign-in nothing."""

    get_settings = staticmethod(setting)

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or not enabled() or "code" not in request.GET or "state" not in request.GET:
            return None
        self.configure()
        return super().authenticate(request, **kwargs)

    def configure(self) -> None:
        """Read the settings and the endpoints (discovery) as the library's constructor does."""
        super().__init__()

    def verify_token(self, token, **kwargs):
        """The ID token's signature, algorithm, audience, issuer, expiry, azp and nonce."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"the ID token cannot be read: {exc}") from None
        algorithm = header.get("alg")
        if algorithm != self.OIDC_RP_SIGN_ALGO:  # never "none", never an algorithm the token chose
            raise SuspiciousOperation(
                f"the ID token is signed with {algorithm!r}, not {self.OIDC_RP_SIGN_ALGO}"
            )
        if algorithm.startswith(("RS", "ES", "PS")):
            key = self.OIDC_RP_IDP_SIGN_KEY or self.retrieve_matching_jwk(token)
        else:
            key = self.OIDC_RP_CLIENT_SECRET
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"the ID token was refused: {exc}") from None
        audiences = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
        if len(audiences) > 1 and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("the ID token was refused: it was issued to another party (azp)")
        if "nonce" in kwargs and setting("OIDC_USE_NONCE", True) and payload.get("nonce") != kwargs["nonce"]:
            raise SuspiciousOperation("the ID token was refused: its nonce does not match this sign-in")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if str(userinfo.get("sub", payload["sub"])) != str(payload["sub"]):
            raise SuspiciousOperation("the provider's user info is about someone else than the ID token")
        claims = {**payload, **userinfo}  # groups may come in either (Entra ID: the ID token)
        role = role_for(claims)
        if role is None:
            raise Refused("none of your groups gives a role in this console")
        return sign_in(issuer=payload["iss"], claims=claims, role=role)


def _fail(request, reason: str):
    log.warning("OpenID Connect sign-in refused: %s", reason)
    messages.error(request, f"Sign-in with {settings.OIDC_PROVIDER_NAME} failed: {reason}.")
    return redirect("login")


class AuthenticateView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider (state, nonce and PKCE kept in the session)."""

    get_settings = staticmethod(setting)

    def __init__(self, **kwargs):  # the endpoint is read per request (discovery may fail)
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)

    def get(self, request):
        if not enabled():
            raise Http404("Sign-in with OpenID Connect is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except ProviderError as exc:
            return _fail(request, str(exc))
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """The provider's answer: the backend checks the tokens and signs the person in."""

    get_settings = staticmethod(setting)

    def get(self, request):
        if not enabled():
            raise Http404("Sign-in with OpenID Connect is not configured")
        try:
            return super().get(request)
        except (SuspiciousOperation, Refused) as exc:
            return _fail(request, str(exc))
        except (requests.RequestException, ProviderError) as exc:
            return _fail(request, f"the provider could not be reached ({exc})")

    def login_failure(self):
        if self.request.GET.get("error"):
            return _fail(self.request, f"the provider answered {self.request.GET['error']}")
        return _fail(self.request, "the provider's answer did not match this sign-in; try again")


authenticate = login_not_required(AuthenticateView.as_view())
callback = login_not_required(CallbackView.as_view())
