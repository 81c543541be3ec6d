"""BulkAnalysisJob.done_images and failed_images, moved with each row's state by the runner (a
running job's progress reads them instead of counting its predictions), filled in from the
rows; and the (job, state, line) index that pages the results grid's state tabs in line order
(it replaces (job, state), a prefix of it); and the admin's state and error filters' indexes."""

from django.db import migrations, models
from django.db.models import Count


def backfill(apps, schema_editor):
    Prediction = apps.get_model("bulk_analysis", "Prediction")
    Job = apps.get_model("bulk_analysis", "BulkAnalysisJob")
    counts = Prediction.objects.exclude(state="pending").values_list("job", "state").annotate(n=Count("pk"))
    for job_id, state, n in counts.order_by():
        field = "done_images" if state == "done" else "failed_images"
        Job.objects.filter(pk=job_id).update(**{field: n})


class Migration(migrations.Migration):
    dependencies = [
        ("bulk_analysis", "0006_job_flagged_images"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkanalysisjob",
            name="done_images",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkanalysisjob",
            name="failed_images",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(fields=["job", "state", "line"], name="prediction_state_line_idx"),
        ),
        migrations.RemoveIndex(
            model_name="prediction",
            name="prediction_state_idx",
        ),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(fields=["state", "id"], name="prediction_admin_state_idx"),
        ),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(fields=["error_code", "id"], name="prediction_admin_error_idx"),
        ),
    ]
