from functools import partial

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from bulk_analysis import queries as bulk_queries
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console import access
from console.models import Profile
from moderation import taxonomy
from projects.models import Project
from verification import queries, services
from verification.forms import TrainFromVerificationForm
from verification.rules import predicted_labels


def _job(request, pk, role=access.VIEWER) -> BulkAnalysisJob:
    job = bulk_queries.get_job(request.user, pk, role)
    if job.status != BulkAnalysisJob.Status.SUCCEEDED:
        raise Http404("only a succeeded job's predictions can be verified")
    return job


def verify_job(request, pk):
    job = _job(request, pk)
    threshold = job.clamp_threshold(request.GET.get("threshold"))
    if request.htmx and request.htmx.target == "performance":
        return render(request, "verification/_performance.html", _performance(job, threshold))
    label, flag = request.GET.get("label", ""), request.GET.get("flag", "")
    status, order = request.GET.get("status", ""), request.GET.get("order", "")
    shown = queries.grid(
        job,
        threshold=threshold,
        label=label,
        flag=flag,
        status=status,
        order=order,
        page=request.GET.get("page"),
        protection=Profile.for_user(request.user).protection(),
        reviewed_matching=lambda: services.reviewed_matching(
            job=job,
            label=label if label in taxonomy.TOP_LEVEL else "",
            flag=flag,
            threshold=threshold,
        ),
        first_unreviewed=lambda: services.queue_start(job),
        viewer_id=request.user.pk,
        group=request.GET.get("group", ""),
    )
    context = {
        "job": job,
        "threshold": threshold,
        "label": label,
        "flag": flag,
        "status": status,
        "order": order,
        "orders": services.QUEUE_ORDERS,  # the grid and Start reviewing take the same orders
        "group": request.GET.get("group", ""),
        **shown,
        "labels": taxonomy.TOP_LEVEL,
        "can_verify": access.has_role(request.user, access.ANNOTATOR),
        "can_manage": access.has_role(request.user, access.MANAGER),
        "second_review_share": services.second_review_share(job=job),
        "query": request.GET.urlencode(),
        **_performance(job, threshold),
    }
    return render(request, "verification/verify.html", context)


def _performance(job, threshold) -> dict:
    return {
        "job": job,
        "threshold": threshold,
        "perf": services.performance(job=job, threshold=threshold),
        "agreed": services.agreement_summary(jobs=services.only(job)),
        "guidance": services.TUTORIAL_GUIDANCE,
    }


def _prediction(request, pk, line):
    job = _job(request, pk, access.ANNOTATOR)
    prediction = get_object_or_404(Prediction, job=job, line=line)
    prediction.job = job
    return prediction


def _answer(request, prediction, threshold, error: str = ""):
    """The updated card for htmx (with an event that refreshes the statistics), else back to the page."""
    if request.htmx:
        context = queries.card_context(
            prediction, threshold, protection=Profile.for_user(request.user).protection()
        )
        context.update(job=prediction.job, can_verify=True, error=error)
        response = render(request, "verification/_card.html", context)
        response["HX-Trigger"] = "verdict-changed"
        return response
    if error:
        messages.error(request, error)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("verify-job", args=[prediction.job_id])
    return redirect(back)


@require_POST
def set_verdict(request, pk, line):
    prediction = _prediction(request, pk, line)
    threshold = prediction.job.clamp_threshold(request.POST.get("threshold"))
    try:
        services.set_verdict(
            user=request.user,
            prediction=prediction,
            label=request.POST.get("label", ""),
            verdict=request.POST.get("verdict", ""),
            threshold=threshold,
        )
    except ValidationError as exc:
        return _answer(request, prediction, threshold, " ".join(exc.messages))
    services.renew_claim(user=request.user, prediction=prediction)
    return _answer(request, prediction, threshold)


@require_POST
def mark_reviewed(request, pk, line):
    prediction = _prediction(request, pk, line)
    threshold = prediction.job.clamp_threshold(request.POST.get("threshold"))
    try:
        services.mark_reviewed(user=request.user, prediction=prediction)
    except ValidationError as exc:
        return _answer(request, prediction, threshold, " ".join(exc.messages))
    return _answer(request, prediction, threshold)


@require_POST
def undo(request, pk, line):
    prediction = _prediction(request, pk, line)
    threshold = prediction.job.clamp_threshold(request.POST.get("threshold"))
    done = services.undo(
        user=request.user,
        prediction=prediction,
        label=request.POST.get("label", ""),
        expected=request.POST.get("expected", ""),
        restore=request.POST.get("restore", ""),
        unreview=request.POST.get("unreview") == "1",
    )
    error = "" if done else "Not undone: someone else has changed this verdict since."
    return _answer(request, prediction, threshold, error)


def train(request, pk):
    job = _job(request, pk, access.MANAGER)
    threshold = job.clamp_threshold(request.POST.get("confidence_threshold") or request.GET.get("threshold"))
    initial = {"confidence_threshold": threshold, "auto_update": True, "project_choice": "new"}
    form = TrainFromVerificationForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        manifest = data.get("test_manifest") if data["test_data"] == "manifest" else None
        try:
            adapter = services.train_from_verification(
                user=request.user,
                job=job,
                threshold=data["confidence_threshold"],
                adapter_name=data["adapter_name"],
                project=data["project"],
                project_name=(data.get("project_name") or "").strip(),
                auto_update=data["auto_update"],
                test_manifest=(manifest.name, manifest.read()) if manifest else None,
                tags=data["tags"],
                kms_key_id=data["kms_key_id"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, f"Training of adapter {adapter.name} has started.")
            return redirect("adapters-detail", adapter.pk)
    context = {"form": form, **_performance(job, threshold)}
    return render(request, "verification/train.html", context)


# ---------------------------------------------------------------- near-duplicate groups


@require_POST
def apply_to_group(request, pk, line):
    """The verdict on one label of this image, given to its near-duplicates in one action; a
    group larger than services.GROUP_CONFIRM_LIMIT is asked about first."""
    prediction = _prediction(request, pk, line)
    threshold = prediction.job.clamp_threshold(request.POST.get("threshold"))
    label = request.POST.get("label", "")
    try:
        changes = services.apply_to_group(
            user=request.user,
            prediction=prediction,
            label=label,
            threshold=threshold,
            confirmed=request.POST.get("confirm") == "1",
        )
    except ValidationError as exc:
        if getattr(exc, "code", "") == "limit":
            context = {"p": prediction, "job": prediction.job, "label": label, "threshold": threshold}
            context["message"] = " ".join(exc.messages)
            return render(request, "verification/group_confirm.html", context)
        return _answer(request, prediction, threshold, " ".join(exc.messages))
    context = {"p": prediction, "job": prediction.job, "label": label, "changes": changes}
    context["undo_token"] = services.group_undo_token(changes)
    return render(request, "verification/group_done.html", context)


@require_POST
def undo_group(request, pk, line):
    prediction = _prediction(request, pk, line)
    try:
        undone = services.undo_group(
            user=request.user, job=prediction.job, token=request.POST.get("token", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Undone on {undone} near-duplicates of line {prediction.line}.")
    return redirect(
        reverse("verify-job", args=[prediction.job_id]) + f"?group={prediction.duplicate_group or ''}"
    )


def review_queue(request, pk):
    """Start reviewing: GET hands the reviewer the next image nobody holds; POST (Submit and next)
    marks the held image reviewed and moves on. If another reviewer reviewed it first (their
    claim expired and was handed on, or the other way round), their review stands and this
    reviewer is told who reviewed it and what they decided, then moves on all the same."""
    job = _job(request, pk, access.ANNOTATOR)
    threshold = job.clamp_threshold(request.GET.get("threshold") or request.POST.get("threshold"))
    order = request.GET.get("order", request.POST.get("order", ""))
    if request.method == "POST":
        prediction = _prediction(request, pk, request.POST.get("line", "0"))
        try:
            if request.POST.get("second") == "1":
                services.submit_second_review(
                    user=request.user,
                    prediction=prediction,
                    labels=request.POST.getlist("labels"),
                    threshold=threshold,
                )
            else:
                services.mark_reviewed(user=request.user, prediction=prediction)
        except ValidationError as exc:
            notice = messages.warning if exc.code == "reviewed" else messages.error
            notice(request, " ".join(exc.messages))
        return redirect(f"{reverse('verify-queue', args=[pk])}?order={order}&threshold={threshold}")
    try:
        prediction = services.claim_next(user=request.user, job=job, order=order, threshold=threshold)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("verify-job", pk)
    context = {
        "job": job,
        "threshold": threshold,
        "order": order,
        "orders": services.QUEUE_ORDERS,
        "progress": services.queue_progress(job=job),
        "claim_minutes": services.CLAIM_SECONDS // 60,
        "can_verify": True,
    }
    if prediction is not None:
        # A second review is blind: the card shows the predictions, not the first review's verdicts.
        second = services.pending_second_review(user=request.user, prediction=prediction) is not None
        context |= queries.card_context(
            prediction,
            threshold,
            protection=Profile.for_user(request.user).protection(),
            **({"verdicts": {}, "reviewed": False} if second else {}),
        )
        context["second"] = second
        if second:  # starts as predicted, as a first review does
            checked = predicted_labels(prediction.top_labels, threshold)
            context["choices"] = queries.label_choices(prediction.top_labels, checked)
    return render(request, "verification/queue.html", context)


# ---------------------------------------------------------------- reviewer agreement


def _share(request) -> int | None:
    try:
        return int(request.POST.get("share", ""))
    except ValueError:
        messages.error(request, "Second review: give a whole percent from 0 to 100.")
        return None


def _set_share(request, share: int | None, setter) -> None:
    if share is None:
        return
    try:
        picked = setter(user=request.user, share=share)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"Second review of {share}% of the reviewed images ({picked} picked from those so far)."
        )


@require_POST
def set_second_review(request, pk):
    """A manager asks for a second review of a share (percent) of the job's reviewed images."""
    job = _job(request, pk, access.MANAGER)
    _set_share(request, _share(request), partial(services.set_second_review_share, job=job))
    return redirect("verify-job", pk)


@require_POST
def set_project_second_review(request, pk):
    """A manager asks the same of every bulk job of a project (a job's own share wins)."""
    project = access.get_or_404(request.user, Project.objects.all(), pk, access.MANAGER)
    _set_share(request, _share(request), partial(services.set_project_second_review_share, project=project))
    return redirect("verify-project-agreement", pk)


def _agreement_page(request, jobs, context: dict):
    """Reviewer agreement over `jobs` per label and per reviewer, and the disagreements a
    manager decides (one job's page, or a project's)."""
    shown = Paginator(services.disagreements(jobs=jobs), queries.PAGE_SIZE).get_page(request.GET.get("page"))
    protection = Profile.for_user(request.user).protection()
    cases = []
    for row in shown:
        row.prediction.job = row.job
        card = queries.card_context(
            row.prediction,
            row.threshold or row.job.min_confidence,
            protection=protection,
            reviewed=True,  # compared with its first review
            duplicates=0,
        )
        card["choices"] = queries.label_choices(row.prediction.top_labels, row.first_labels)
        cases.append({**card, "second": row})
    context |= {
        "stats": services.agreement(jobs=jobs),
        "summary": services.agreement_summary(jobs=jobs),
        "page": shown,
        "cases": cases,
        "labels": taxonomy.TOP_LEVEL,
        "can_decide": access.has_role(request.user, access.MANAGER),
        "back": request.get_full_path(),
    }
    return render(request, "verification/agreement.html", context)


def agreement(request, pk):
    job = _job(request, pk)
    return _agreement_page(
        request, services.only(job), {"job": job, "share": services.second_review_share(job=job)}
    )


def project_agreement(request, pk):
    """A project's agreement page: over every bulk job run with one of its adapters."""
    project = access.get_or_404(request.user, Project.objects.all(), pk)
    context = {
        "project": project,
        "share": services.project_second_review_share(project=project),
        "can_manage": access.has_role(request.user, access.MANAGER),
    }
    return _agreement_page(request, services.project_jobs(project), context)


@require_POST
def adjudicate(request, pk, line):
    """A manager's decision on a disagreement: the labels the image has, now its verdicts."""
    job = _job(request, pk, access.MANAGER)
    prediction = get_object_or_404(Prediction, job=job, line=line)
    prediction.job = job
    try:
        services.adjudicate(user=request.user, prediction=prediction, labels=request.POST.getlist("labels"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Decided line {line}: the decision is now its verdict.")
    back = request.POST.get("next", "")  # the project's agreement page, or the job's
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("verify-agreement", pk)
