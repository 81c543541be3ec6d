from django.shortcuts import get_object_or_404, render

from adapters.models import Adapter


def adapter_detail(request, pk):
    adapter = get_object_or_404(Adapter.objects.select_related("project"), pk=pk)
    return render(request, "adapters/detail.html", {"adapter": adapter})
