"""Access keys for the compatible API: the API keys page and the functions behind it.

A key belongs to one user and acts with that user's role. The secret is shown once,
when the key is made, and kept encrypted (SigV4 needs the secret itself to check
a signature, so it cannot be a one-way hash).
"""

from __future__ import annotations

import secrets
import string

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from console import access
from console.lib import storage
from console.models import record
from rekognition_api.models import ApiKey

_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"
_SESSION_SECRET = "console-api-new-secret"


def create_api_key(*, user, name: str = "") -> tuple[ApiKey, str]:
    """A new active key for `user`; returns it with its secret, which is not shown again."""
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    with transaction.atomic():
        key = ApiKey(
            user=user,
            name=name,
            access_key_id="AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
        )
        key.set_secret(secret)
        key.save()
        record(user, "apikey.create", key, access_key_id=key.access_key_id, name=name)
    return key, secret


def revoke_api_key(*, user, key: ApiKey) -> bool:
    """Revoke a key (at once: the next request with it is refused); False if it already was."""
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            record(user, "apikey.revoke", key, access_key_id=key.access_key_id)
    return bool(revoked)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, help_text="What the key is for, e.g. a script's name"
    )


def _context(**context) -> dict:
    return {**context, "api_url": settings.CONSOLE_API_URL, "bucket": storage.bucket()}


def list_keys(request):
    access.require_role(request.user, access.VIEWER)
    keys = ApiKey.objects.filter(user=request.user)
    new = request.session.pop(_SESSION_SECRET, None)  # shown once, then gone
    return render(request, "rekognition_api/api_keys.html", _context(keys=keys, form=ApiKeyForm(), new=new))


@require_POST
def create_key(request):
    access.require_role(request.user, access.VIEWER)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        keys = ApiKey.objects.filter(user=request.user)
        return render(
            request, "rekognition_api/api_keys.html", _context(keys=keys, form=form, new=None), status=400
        )
    key, secret = create_api_key(user=request.user, name=form.cleaned_data["name"])
    request.session[_SESSION_SECRET] = {"access_key_id": key.access_key_id, "secret": secret}
    return redirect("console-api-keys")


@require_POST
def revoke_key(request, pk: int):
    access.require_role(request.user, access.VIEWER)
    key = get_object_or_404(ApiKey, pk=pk, user=request.user)
    if revoke_api_key(user=request.user, key=key):
        messages.success(request, f"Access key {key.access_key_id} was revoked.")
    return redirect("console-api-keys")
