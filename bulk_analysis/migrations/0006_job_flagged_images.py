"""BulkAnalysisJob.flagged_images, stored when a job finishes; filled in for the finished jobs
from their stored histograms, and total_images for the jobs not started yet from their rows
(the Bulk analysis list reads both instead of counting predictions)."""

import math

from django.db import migrations, models
from django.db.models import Count


def backfill(apps, schema_editor):
    Job = apps.get_model("bulk_analysis", "BulkAnalysisJob")
    for job in Job.objects.exclude(histograms=None).only("pk", "min_confidence", "histograms").iterator():
        threshold = round(min(100.0, max(0.0, job.min_confidence)), 1)
        first = min(1001, max(0, math.ceil(threshold * 10 - 1e-6)))  # histograms.first_bin
        flagged = sum(job.histograms["max"][first:])
        Job.objects.filter(pk=job.pk).update(flagged_images=flagged)
    created = Job.objects.filter(status="CREATED").annotate(n=Count("predictions"))
    for pk, n in created.values_list("pk", "n"):
        Job.objects.filter(pk=pk).update(total_images=n)


class Migration(migrations.Migration):
    dependencies = [
        ("bulk_analysis", "0005_prediction_hash_banks"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkanalysisjob",
            name="flagged_images",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
