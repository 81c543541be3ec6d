from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import json_script
from django.views.decorators.http import require_POST

from bulk_analysis import histograms, services
from bulk_analysis.forms import AddImagesForm, StartJobForm
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console import access
from console.backends.base import BackendError
from console.lib.http import stored_file, wants_json
from console.lib.pagination import CountedPaginator
from console.models import Profile
from moderation import taxonomy

GRID_PAGE = 60  # images per page of the job's grid


def list_jobs(request):
    access.require_role(request.user, access.VIEWER)
    jobs = (
        BulkAnalysisJob.objects.select_related("adapter__project")
        .annotate(
            flagged=Count(
                "predictions",
                filter=Q(
                    predictions__state=Prediction.State.DONE,
                    predictions__max_confidence__gte=F("min_confidence"),
                    predictions__max_confidence__gt=0,
                ),
            ),
            images=Count("predictions"),
        )
        .order_by("-created_at")
    )
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    return render(request, "bulk_analysis/list.html", {"jobs": page, "page": page})


def new_job(request):
    """Start page. Images from the computer are sent afterwards by bulk.js, 50 per request,
    to the created job's upload URL (without JavaScript, up to 50 come with this form)."""
    access.require_role(request.user, access.MANAGER)
    form = StartJobForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                job = services.create_job(
                    user=request.user,
                    name=data["name"],
                    adapter=data["adapter"],
                    min_confidence=data["min_confidence"],
                )
                report = _add_from(job, data, request.FILES.getlist("images"))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if wants_json(request):
                return JsonResponse(
                    {
                        "job": job.pk,
                        "upload_url": reverse("bulk-upload", args=[job.pk]),
                        "detail_url": reverse("bulk-detail", args=[job.pk]),
                        "batch": services.UPLOAD_BATCH,
                    }
                )
            _report(request, report)
            return redirect("bulk-detail", job.pk)
    if request.method == "POST" and wants_json(request):
        return JsonResponse({"errors": [e for errors in form.errors.values() for e in errors]}, status=400)
    return render(request, "bulk_analysis/new.html", {"form": form, "batch": services.UPLOAD_BATCH})


def _add_from(job, data, files) -> services.AddReport:
    source = data.get("source")
    if data.get("s3_uri") and source in (None, "s3"):
        return services.add_s3_prefix(job=job, uri=data["s3_uri"].strip())
    if data.get("manifest") and source in (None, "manifest"):
        upload = data["manifest"]
        return services.add_manifest(job=job, data=upload.read(), name=upload.name)
    if files:
        if len(files) > services.UPLOAD_BATCH:
            raise ValidationError(f"Images: send at most {services.UPLOAD_BATCH} images at a time.")
        return services.add_files(job=job, files=[(f.name, f.read()) for f in files])
    return services.AddReport()


def _report(request, report: services.AddReport) -> None:
    if report.added:
        messages.success(request, f"{report.added} images added.")
    for name, reason in report.failed:
        messages.error(request, f"{name}: {reason}")


@require_POST
def upload_images(request, pk):
    """One batch (at most 50) of images from the computer, or an S3 prefix / manifest, for a CREATED job."""
    job = access.get_job(request.user, pk, access.MANAGER)
    files = request.FILES.getlist("images")
    form = AddImagesForm(request.POST, request.FILES) if not files else None
    try:
        if form is not None and not form.is_valid():
            raise ValidationError(form.non_field_errors() or ["Choose images to add."])
        report = _add_from(job, form.cleaned_data if form else {}, files)
    except ValidationError as exc:
        if wants_json(request):
            return JsonResponse({"errors": exc.messages}, status=400)
        for message in exc.messages:
            messages.error(request, message)
        return redirect("bulk-detail", pk)
    if wants_json(request):
        return JsonResponse(
            {
                "added": report.added,
                "failed": [{"name": n, "reason": r} for n, r in report.failed],
                "total": job.predictions.count(),
            }
        )
    _report(request, report)
    return redirect("bulk-detail", pk)


@require_POST
def start_job(request, pk):
    job = access.get_job(request.user, pk, access.MANAGER)
    try:
        services.start_job(user=request.user, job=job)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Bulk analysis job {job.name} started.")
    return redirect("bulk-detail", pk)


def slider_data(job, binned: dict) -> dict:
    """What static/js/bulk.js counts from: the histograms, labels in taxonomy order (1,001 bins
    each, so the page weighs the same at 1,000 or 50,000 images)."""
    return {
        "min": job.min_confidence,
        "done": binned["done"],
        "max": binned["max"],
        "labels": list(taxonomy.TOP_LEVEL),
        "conf": [binned["labels"].get(name) for name in taxonomy.TOP_LEVEL],  # null: no image has it
    }


def job_detail(request, pk):
    job = access.get_job(request.user, pk)
    # A finished job reads its stored histograms: no query over its predictions for the counts.
    binned = None if job.is_running else services.job_histograms(job)
    progress = services.finished_progress(binned) if binned else services.progress(job)
    if request.htmx and request.htmx.target == "job-progress":
        response = render(request, "bulk_analysis/_progress.html", {"job": job, "progress": progress})
        if not job.is_running:
            response["HX-Refresh"] = "true"  # the finished page has the results
        return response
    context = {"job": job, "progress": progress, "min_confidence_int": int(job.min_confidence)}
    if job.status == BulkAnalysisJob.Status.CREATED:
        context["estimate"] = services.estimate(images=progress["total"])
        context["add_form"] = AddImagesForm()
        context["batch"] = services.UPLOAD_BATCH
    elif binned:
        context.update(_results(request, job, binned))
    return render(request, "bulk_analysis/detail.html", context)


def filtered_predictions(job, *, label: str, flag: str, threshold: float):
    rows = job.predictions.all()
    if label in taxonomy.TOP_LEVEL:
        rows = rows.filter(**{f"top_labels__{label}__gte": threshold})
    if flag == "flagged":
        rows = rows.filter(state=Prediction.State.DONE, max_confidence__gte=threshold, max_confidence__gt=0)
    elif flag == "unflagged":
        rows = rows.filter(state=Prediction.State.DONE).filter(
            Q(max_confidence__lt=threshold) | Q(max_confidence=0)
        )
    elif flag == "failed":
        rows = rows.filter(state=Prediction.State.FAILED)
    return rows


def _results(request, job, binned: dict) -> dict:
    threshold = job.clamp_threshold(request.GET.get("threshold"))
    label = request.GET.get("label", "")
    flag = request.GET.get("flag", "")
    counts = histograms.counts_at(binned, threshold, taxonomy.TOP_LEVEL)
    rows = filtered_predictions(job, label=label, flag=flag, threshold=threshold).order_by("line")
    known = histograms.matching(
        binned,
        label=label if label in taxonomy.TOP_LEVEL else "",
        flag=flag,
        threshold=threshold,
        done_only=False,
    )
    page = CountedPaginator(rows, GRID_PAGE, count=known).get_page(request.GET.get("page"))
    peak = max([n for _, n in counts["per_label"]] + [1])
    return {
        "threshold": threshold,
        "label": label,
        "flag": flag,
        "threshold_script": json_script(slider_data(job, binned), "threshold-data"),
        "counts": counts,
        "bars": [(name, n, round(100 * n / peak)) for name, n in counts["per_label"]],
        "page": page,
        "cards": [_card(p, threshold) for p in page],  # chips for this page's predictions only
        "failed": binned["failed"],
        "blur": Profile.for_user(request.user).blur_explicit,
    }


def _card(prediction: Prediction, threshold: float) -> dict:
    tops = sorted(prediction.top_labels.items(), key=lambda item: -item[1])
    return {
        "p": prediction,
        "labels": tops,
        "shown": [(n, c) for n, c in tops if c >= threshold],
        "explicit": taxonomy.BLURRED_TOP_LEVEL in prediction.top_labels,
    }


def _prediction(request, pk, line) -> Prediction:
    job = access.get_job(request.user, pk)
    prediction = get_object_or_404(Prediction, job=job, line=line)
    prediction.job = job
    return prediction


def thumbnail(request, pk, line):
    prediction = _prediction(request, pk, line)
    try:
        name = services.ensure_thumbnail(prediction)
    except (BackendError, ValueError, OSError):
        raise Http404("the image cannot be read") from None
    response = stored_file(name, "image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def image(request, pk, line):
    prediction = _prediction(request, pk, line)
    try:
        data = services.image_bytes(prediction)
    except (BackendError, ValueError):
        raise Http404("the image cannot be read") from None
    kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return HttpResponse(data, content_type=kind)


def download_results(request, pk):
    job = access.get_job(request.user, pk)
    if not job.output_manifest:
        raise Http404("the job has no results yet")
    return stored_file(job.output_manifest, "application/jsonlines", f"{job.name}-results.manifest")


def download_summary(request, pk):
    job = access.get_job(request.user, pk)
    if not job.summary:
        raise Http404("the job has no summary yet")
    return stored_file(job.summary, "application/json", f"{job.name}-manifest-summary.json")
