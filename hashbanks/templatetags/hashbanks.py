"""What the grids of other pages show of the hash banks: an image's matches, and an "Add to bank"
form whose image reference is signed here (views.add_to_bank checks the signature)."""

from django import template
from django.core import signing

from console import access
from hashbanks import services
from hashbanks.models import Bank
from hashbanks.views import ADD_SALT

register = template.Library()


@register.inclusion_tag("hashbanks/_matches.html")
def bank_matches(matches):
    """Matches as stored with a prediction (BankMatch.as_json dicts)."""
    return {"matches": matches or []}


@register.inclusion_tag("hashbanks/_matches.html", takes_context=True)
def current_bank_matches(context, sha256):
    """The enabled banks' matches of an image now, by its sha256 (a dataset image's). The first
    card of a grid looks up every card of the page at once (the context's `cards`, each with its
    `image`): the grid's queries stay the same whatever its page size."""
    request = context.get("request")
    memo = getattr(request, "_bank_matches", None) if request is not None else None
    if memo is None or sha256 not in memo:
        cards = [card for card in context.get("cards") or [] if isinstance(card, dict)]
        wanted = {sha256} | {getattr(card.get("image"), "sha256", "") for card in cards}
        memo = {**(memo or {}), **{sha: [] for sha in wanted}, **services.matches_of(sha256s=wanted - {""})}
        if request is not None:
            request._bank_matches = memo
    return {"matches": [m.as_json() for m in memo.get(sha256, [])]}


def _memo(request, name, compute):
    """A value computed once per request (every card of a grid asks the same)."""
    if not hasattr(request, name):
        setattr(request, name, compute())
    return getattr(request, name)


@register.inclusion_tag("hashbanks/_add_to_bank.html", takes_context=True)
def add_to_bank(context, what, which, *, file="", sha256=""):
    """The "Add to bank" form of one image ("<what> <which>", e.g. "dataset image" and its name),
    for annotators, when there is a bank: by its storage name, else by its sha256."""
    source = f"{what} {which}"
    request = context.get("request")
    if request is None or not (file or sha256):
        return {"banks": []}
    if not _memo(request, "_hash_banks_can_add", lambda: access.has_role(request.user, access.ANNOTATOR)):
        return {"banks": []}
    banks = _memo(request, "_hash_banks", lambda: list(Bank.objects.values_list("pk", "name")))
    token = signing.dumps({"file": file, "sha256": sha256, "source": source}, salt=ADD_SALT)
    return {
        "banks": banks,
        "token": token,
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
