from django.shortcuts import render

from bulk_analysis.models import BulkAnalysisJob


def list_jobs(request):
    jobs = BulkAnalysisJob.objects.select_related("adapter")[:200]
    return render(request, "bulk_analysis/list.html", {"jobs": jobs})
