"""The request side of the image-import forms: reading them and answering them.

Shared by Add images (adapters.views) and the Create project wizard (projects.views), which
import no app's views. The answer is JSON for the page's batched upload script, or a flashed
report and a redirect to the labeling page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import TooManyFilesSent
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from adapters.datasets import ImportReport
from console.lib import s3, storage
from console.lib.http import wants_json
from moderation.manifests import ManifestError

UPLOAD_BATCH = 30  # files per upload request, as the AWS console sends them
REPORT_LINES = 20  # files named in a flash message; the rest are counted
TOO_MANY = (
    "Images: too many files in one submission. Without JavaScript at most 60 files can be sent at "
    "once; send the rest with Add images (with JavaScript the page sends any number, 30 at a time)."
)


def form_messages(form) -> list[str]:
    out = []
    for name, errors in form.errors.items():
        label = form.fields[name].label or name.replace("_", " ").capitalize() if name != "__all__" else ""
        for error in errors:
            out.append(error if not label or error.startswith(label) else f"{label}: {error}")
    return out


def _named_list(items) -> str:
    shown = "; ".join(f"{name} ({reason})" for name, reason in items[:REPORT_LINES])
    more = len(items) - REPORT_LINES
    return shown + (f"; and {more} more" if more > 0 else "")


def _flash_report(request, report: ImportReport) -> None:
    n = len(report.added)
    messages.success(request, f"{n} image{'s' if n != 1 else ''} added.")
    if report.skipped:
        messages.warning(request, f"{len(report.skipped)} skipped: {_named_list(report.skipped)}")
    if report.failed:
        messages.error(request, f"{len(report.failed)} refused: {_named_list(report.failed)}")


def uploaded_files(request, form) -> list[tuple[str, bytes]]:
    return (
        [(f.name, f.read()) for f in request.FILES.getlist("files")]
        if form.cleaned_data["source"] == "upload"
        else []
    )


def too_many_files(request) -> bool:
    """Parse the POST body once; True when it carried more files than Django accepts."""
    try:
        request.POST  # noqa: B018 - parses the body and the files
        return False
    except TooManyFilesSent:
        return True


def add_manifest_error(form, exc: ManifestError, sources: dict) -> None:
    """Put a refused manifest's bad lines under the field that held it."""
    manifest, test = sources.get("manifest"), sources.get("test_manifest")
    if manifest and manifest[0] == exc.filename:
        field = "manifest"
    elif test and test[0] == exc.filename:
        field = "test_manifest"
    else:
        field = None
    form.add_error(
        field,
        [f"The manifest {exc.filename} was refused and nothing was imported; its bad lines:"]
        + [e.describe(exc.filename) for e in exc.errors],
    )


def import_response(request, adapter, report: ImportReport):
    labels_url = reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    if wants_json(request):
        return JsonResponse(
            {
                "upload_url": reverse("projects-upload", args=[adapter.project_id, adapter.pk]),
                "next_url": labels_url,
                "batch": UPLOAD_BATCH,
                "report": report.as_json(),
            }
        )
    _flash_report(request, report)
    return redirect(labels_url)


def form_context(**context) -> dict:
    return {**context, "s3_configured": s3.configured(), "storage_bucket": storage.bucket()}


def errors_response(request, form, template, context):
    if wants_json(request):
        return JsonResponse({"errors": form_messages(form)}, status=400)
    return render(request, template, form_context(**context), status=400)
