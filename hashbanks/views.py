"""The Hash banks pages: banks, their hashes, uploads, hash lists in and out, and "Add to bank"
from the grids of other pages (which sign what they ask to add: see templatetags/hashbanks.py)."""

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from console import access
from console.lib.pagination import CountedPaginator
from hashbanks import services
from hashbanks.forms import BankForm, HashListForm
from hashbanks.models import Bank, BankHash

ADD_SALT = "hashbanks.add-to-bank"
HASHES_PER_PAGE = 100


def _bank(request, pk, role=access.VIEWER) -> Bank:
    return access.get_or_404(request.user, Bank.objects.all(), pk, role)


def _refusal(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _report(request, report: services.AddReport) -> None:
    if report.added or report.existing:
        messages.success(
            request,
            f"{report.added} hashes added"
            + (f", {report.existing} already in the bank." if report.existing else "."),
        )
    for name, reason in report.refused:
        messages.error(request, f"{name}: {reason}" if not reason.startswith(name) else reason)


@require_safe
def bank_list(request):
    access.require_role(request.user, access.VIEWER)
    banks = Bank.objects.all()  # each with its hash_count: no count of the hashes
    return render(
        request,
        "hashbanks/list.html",
        {"banks": banks, "form": BankForm(), "can_manage": access.has_role(request.user, access.MANAGER)},
    )


@require_POST
def bank_create(request):
    access.require_role(request.user, access.MANAGER)
    form = BankForm(request.POST)
    if form.is_valid():
        try:
            bank = services.create_bank(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _refusal(request, exc)
        else:
            messages.success(request, f"Bank {bank.name} created.")
            return redirect("hashbanks-detail", bank.pk)
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{field.replace('_', ' ').capitalize()}: {' '.join(errors)}")
    return redirect("hashbanks-list")


@require_safe
def bank_detail(request, pk):
    bank = _bank(request, pk)
    hashes = bank.hashes.select_related("added_by")
    page = CountedPaginator(hashes, HASHES_PER_PAGE, count=bank.hash_count).get_page(request.GET.get("page"))
    form = BankForm(initial={name: getattr(bank, name) for name in services.BANK_FIELDS})
    return render(
        request,
        "hashbanks/detail.html",
        {
            "bank": bank,
            "page": page,
            "form": form,
            "list_form": HashListForm(),
            "min_quality": services.min_quality(),
            "can_add": access.has_role(request.user, access.ANNOTATOR),
            "can_manage": access.has_role(request.user, access.MANAGER),
        },
    )


@require_POST
def bank_edit(request, pk):
    bank = _bank(request, pk, access.MANAGER)
    form = BankForm(request.POST)
    if form.is_valid():
        try:
            services.update_bank(user=request.user, bank=bank, **form.cleaned_data)
        except ValidationError as exc:
            _refusal(request, exc)
        else:
            messages.success(request, f"Bank {bank.name} saved.")
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{field.replace('_', ' ').capitalize()}: {' '.join(errors)}")
    return redirect("hashbanks-detail", bank.pk)


def bank_delete(request, pk):
    bank = _bank(request, pk, access.MANAGER)
    if request.method == "POST":
        services.delete_bank(user=request.user, bank=bank)
        messages.success(request, f"Bank {bank.name} deleted.")
        return redirect("hashbanks-list")
    return render(request, "hashbanks/delete.html", {"bank": bank, "size": bank.hash_count})


@require_POST
def bank_upload(request, pk):
    bank = _bank(request, pk, access.ANNOTATOR)
    files = [(f.name, f.read()) for f in request.FILES.getlist("images")]
    if not files:
        messages.error(request, "Images: choose one or more image files.")
    else:
        _report(request, services.add_images(user=request.user, bank=bank, files=files))
    return redirect("hashbanks-detail", bank.pk)


@require_POST
def bank_import(request, pk):
    bank = _bank(request, pk, access.MANAGER)
    form = HashListForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Hash list: choose a text file of PDQ hashes.")
        return redirect("hashbanks-detail", bank.pk)
    upload = form.cleaned_data["hash_list"]
    try:
        report = services.import_hash_list(user=request.user, bank=bank, data=upload.read(), name=upload.name)
    except ValidationError as exc:
        messages.error(request, f"Nothing imported from {upload.name}:")
        _refusal(request, exc)
    else:
        _report(request, report)
    return redirect("hashbanks-detail", bank.pk)


@require_safe
def bank_export(request, pk):
    bank = _bank(request, pk)
    response = StreamingHttpResponse(
        services.export_hash_list(bank=bank), content_type="text/plain; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="bank-{bank.pk}-pdq.txt"'
    return response


@require_POST
def hash_remove(request, pk, hash_pk):
    bank = _bank(request, pk, access.MANAGER)
    bank_hash = get_object_or_404(BankHash, bank=bank, pk=hash_pk)
    services.remove_hash(user=request.user, bank_hash=bank_hash)
    messages.success(request, f"Hash {bank_hash.hash[:16]}… removed from {bank.name}.")
    return redirect("hashbanks-detail", bank.pk)


@require_POST
def add_to_bank(request):
    """An image from a grid into a bank. The grid's form carries a signed token (the image's
    storage name or sha256, and where it was shown), so nobody posts a file of their choosing."""
    access.require_role(request.user, access.ANNOTATOR)
    bank = get_object_or_404(Bank, pk=request.POST.get("bank") or 0)
    try:
        item = signing.loads(request.POST.get("bank_item", ""), salt=ADD_SALT)
    except signing.BadSignature:
        messages.error(request, "Add to bank: that image reference is not one this console gave.")
    else:
        try:
            if item.get("file"):
                report = services.add_stored_image(
                    user=request.user, bank=bank, name=item["file"], source=item["source"]
                )
            else:
                report = services.add_known_hash(
                    user=request.user, bank=bank, sha256=item["sha256"], source=item["source"]
                )
        except ValidationError as exc:
            _refusal(request, exc)
        else:
            if report.added:
                messages.success(
                    request, f"{item['source']} added to bank {bank.name} ({report.added} hashes)."
                )
            else:
                messages.info(request, f"{item['source']} is in bank {bank.name} already.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect("hashbanks-detail", bank.pk)
    return redirect(back)
