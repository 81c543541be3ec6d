from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bulk_analysis import queries, runner, services
from bulk_analysis.forms import AddImagesForm, StartJobForm
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console import access, leases
from console.backends.base import BackendError
from console.lib.http import stored_file, wants_json
from console.models import Profile


def list_jobs(request):
    access.require_role(request.user, access.VIEWER)
    page = Paginator(queries.job_list(), 50).get_page(request.GET.get("page"))
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
    """The images a form sent: an S3 prefix, a manifest, or files (services.add_images picks)."""
    upload = data.get("manifest")
    return services.add_images(
        job=job,
        source=data.get("source"),
        s3_uri=data.get("s3_uri") or "",
        manifest=(upload.name, upload.read()) if upload else None,
        files=[(f.name, f.read()) for f in files],
    )


def _report(request, report: services.AddReport) -> None:
    if report.added:
        messages.success(request, f"{report.added} images added.")
    for name, reason in report.failed:
        messages.error(request, f"{name}: {reason}")


@require_POST
def upload_images(request, pk):
    """One batch (at most 50) of images from the computer, or an S3 prefix / manifest, for a CREATED job."""
    job = queries.get_job(request.user, pk, access.MANAGER)
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
        job.refresh_from_db(fields=["total_images"])  # with other batches' images (kept with the rows)
        return JsonResponse(
            {
                "added": report.added,
                "failed": [{"name": n, "reason": r} for n, r in report.failed],
                "total": job.total_images,
            }
        )
    _report(request, report)
    return redirect("bulk-detail", pk)


@require_POST
def start_job(request, pk):
    job = queries.get_job(request.user, pk, access.MANAGER)
    try:
        services.start_job(user=request.user, job=job)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Bulk analysis job {job.name} started.")
    return redirect("bulk-detail", pk)


@require_POST
def cancel_job(request, pk):
    job = queries.get_job(request.user, pk, access.MANAGER)
    if runner.cancel_job(user=request.user, job=job):
        messages.success(request, f"Bulk analysis job {job.name} cancelled.")
    else:
        messages.error(request, f"Bulk analysis job {job.name} is not running: nothing to cancel.")
    return redirect("bulk-detail", pk)


def job_detail(request, pk):
    job = queries.get_job(request.user, pk)
    binned, progress = queries.job_progress(job)
    if request.htmx and request.htmx.target == "job-progress":
        response = render(request, "bulk_analysis/_progress.html", {"job": job, "progress": progress})
        if not job.is_running:
            response["HX-Refresh"] = "true"  # the finished page has the results
        return response
    context = {"job": job, "progress": progress, "min_confidence_int": int(job.min_confidence)}
    context["recoveries"] = leases.recovery_notes(job, "bulk.worker_lost")
    if job.status == BulkAnalysisJob.Status.CREATED:
        context["estimate"] = services.estimate(images=progress["total"])
        context["add_form"] = AddImagesForm()
        context["batch"] = services.UPLOAD_BATCH
    elif binned:
        context |= queries.results(
            job,
            binned,
            threshold=job.clamp_threshold(request.GET.get("threshold")),
            label=request.GET.get("label", ""),
            flag=request.GET.get("flag", ""),
            page=request.GET.get("page"),
            protection=Profile.for_user(request.user).protection(),
        )
    return render(request, "bulk_analysis/detail.html", context)


def _prediction(request, pk, line) -> Prediction:
    job = queries.get_job(request.user, pk)
    prediction = get_object_or_404(Prediction, job=job, line=line)
    prediction.job = job
    return prediction


def thumbnail(request, pk, line):
    prediction = _prediction(request, pk, line)
    try:
        name = prediction.ensure_thumbnail()
    except (BackendError, ValueError, OSError):
        raise Http404("the image cannot be read") from None
    response = stored_file(name, "image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def image(request, pk, line):
    prediction = _prediction(request, pk, line)
    try:
        data = prediction.read_image()
    except (BackendError, ValueError):
        raise Http404("the image cannot be read") from None
    kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return HttpResponse(data, content_type=kind)


def download_results(request, pk):
    job = queries.get_job(request.user, pk)
    if not job.output_manifest:
        raise Http404("the job has no results yet")
    return stored_file(job.output_manifest, "application/jsonlines", f"{job.name}-results.manifest")


def download_summary(request, pk):
    job = queries.get_job(request.user, pk)
    if not job.summary:
        raise Http404("the job has no summary yet")
    return stored_file(job.summary, "application/json", f"{job.name}-manifest-summary.json")
