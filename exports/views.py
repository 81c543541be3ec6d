"""Exports' pages: start a large download, watch its progress, download the file when ready."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from adapters import datasets
from adapters.models import Adapter
from console import access
from console.lib.http import stored_file
from exports import services
from exports.models import Export


@require_http_methods(["GET", "POST"])
def new_adapter_manifest(request, adapter_pk):
    """GET: what the export will hold, and a button; POST: start it (a download link leads here
    from the dataset pages when the manifest is too large to write in the request)."""
    adapter = access.get_or_404(request.user, Adapter.objects.select_related("project"), adapter_pk)
    split = "test" if request.GET.get("split") == "test" else "train"
    if request.method == "POST":
        export = services.start_adapter_manifest(user=request.user, adapter=adapter, split=split)
        return redirect("exports-detail", export.pk)
    recent = Export.objects.filter(adapter=adapter, split=split, created_by=request.user)[:5]
    size = datasets.manifest_size(adapter=adapter, split=split)
    context = {"adapter": adapter, "split": split, "size": size, "recent": recent}
    return render(request, "exports/new.html", context)


@require_safe
def export_detail(request, pk):
    """The export's progress; htmx polls the fragment while it runs (the finished one stops)."""
    export = access.get_or_404(request.user, Export.objects.select_related("adapter__project"), pk)
    if request.htmx:
        return render(request, "exports/_progress.html", {"export": export})
    return render(request, "exports/detail.html", {"export": export})


@require_safe
def download_export(request, pk):
    export = access.get_or_404(request.user, Export.objects.all(), pk)
    if export.status != Export.Status.SUCCEEDED:
        raise Http404("This export is not ready")
    return stored_file(export.file, "application/x-ndjson", export.filename)
