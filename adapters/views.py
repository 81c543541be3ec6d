from django.shortcuts import render

from console import access


def adapter_detail(request, pk):
    adapter = access.get_adapter(request.user, pk)
    return render(request, "adapters/detail.html", {"adapter": adapter})
