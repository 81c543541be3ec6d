from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console import access
from projects import services
from projects.forms import ProjectForm


def new_project(request):
    access.require_role(request.user, access.MANAGER)
    form = ProjectForm(request.POST or None, initial={"auto_update": True})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            project = services.create_project(
                user=request.user, name=data["project_name"], auto_update=data["auto_update"]
            )
            adapter = services.create_adapter(
                user=request.user,
                project=project,
                name=data["adapter_name"],
                description=data["adapter_description"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Project {project.name} and adapter {adapter.name} created.")
            return redirect("projects-detail", project.pk)
    return render(request, "projects/new.html", {"form": form})


def project_detail(request, pk):
    project = access.get_project(request.user, pk)
    return render(request, "projects/detail.html", {"project": project, "adapters": project.adapters.all()})


@require_POST
def delete_project(request, pk):
    project = access.get_project(request.user, pk, access.MANAGER)
    try:
        services.delete_project(user=request.user, project=project)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("projects-detail", pk)
    messages.success(request, f"Project {project.name} deleted.")
    return redirect("console-home")
