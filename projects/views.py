from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from adapters import uploads
from console import access
from moderation.manifests import ManifestError
from projects import queries, services
from projects.forms import ProjectForm
from projects.models import Project

HOME_PAGE = 50


def _get_project(request, pk, role=access.VIEWER) -> Project:
    return access.get_or_404(request.user, Project.objects.all(), pk, role)


def home(request):
    """The Custom Moderation landing page: projects, their adapters and statuses, newest first,
    HOME_PAGE projects a page (each written out with its adapters)."""
    access.require_role(request.user, access.VIEWER)
    page = Paginator(queries.projects_with_adapters(), HOME_PAGE).get_page(request.GET.get("page"))
    return render(request, "console/home.html", {"projects": page, "page": page})


def new_project(request):
    """Create project: a new project or an existing one, an adapter, and its images."""
    access.require_role(request.user, access.MANAGER)
    initial = {"auto_update": True, "project_mode": "new", "source": "upload", "test_data": "autosplit"}
    if request.GET.get("project"):
        initial.update(project_mode="existing", project=request.GET["project"])
    if request.method != "POST":
        return render(request, "projects/new.html", uploads.form_context(form=ProjectForm(initial=initial)))
    too_many = uploads.too_many_files(request)
    form = ProjectForm(request.POST, request.FILES, initial=initial)
    if too_many:
        form.is_valid()
        form.add_error(None, uploads.TOO_MANY)
    elif form.is_valid():
        data = form.cleaned_data
        sources = form.sources()
        existing = data["project_mode"] == "existing"
        try:
            adapter, report = services.create_adapter_with_images(
                user=request.user,
                project=data["project"] if existing else None,
                project_name=data["project_name"],
                auto_update=data["auto_update"],
                adapter_name=data["adapter_name"],
                description=data["adapter_description"],
                copy_from=data["copy_from"] if existing else None,
                files=uploads.uploaded_files(request, form),
                **sources,
            )
        except ManifestError as exc:
            uploads.add_manifest_error(form, exc, sources)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return uploads.import_response(request, adapter, report)
    return uploads.errors_response(request, form, "projects/new.html", {"form": form})


def project_detail(request, pk):
    project = _get_project(request, pk)
    rows = queries.adapter_rows(project)
    return render(
        request,
        "projects/detail.html",
        {"project": project, "rows": rows, "can_manage": access.has_role(request.user, access.MANAGER)},
    )


def delete_project(request, pk):
    """GET: the confirmation page (as for an adapter); POST: delete."""
    project = _get_project(request, pk, access.MANAGER)
    if request.method != "POST":
        return render(
            request, "projects/delete.html", {"project": project, "adapters": project.adapters.count()}
        )
    try:
        services.delete_project(user=request.user, project=project)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("projects-detail", pk)
    messages.success(request, f"Project {project.name} deleted.")
    return redirect("console-home")
