from django.shortcuts import render

from console.models import ApiKey


def list_keys(request):
    keys = ApiKey.objects.filter(user=request.user)
    return render(request, "console/api_keys.html", {"keys": keys})
