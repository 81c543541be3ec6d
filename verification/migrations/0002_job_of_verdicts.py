import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    """Each existing verdict and review gets its prediction's job."""
    Prediction = apps.get_model("bulk_analysis", "Prediction")
    job_of = Subquery(Prediction.objects.filter(pk=OuterRef("prediction_id")).values("job_id")[:1])
    for name in ("Verification", "ImageReview"):
        apps.get_model("verification", name).objects.update(job_id=job_of)


class Migration(migrations.Migration):
    dependencies = [
        ("bulk_analysis", "0003_job_histograms"),
        ("verification", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="verification",
            name="job",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="verifications",
                to="bulk_analysis.bulkanalysisjob",
            ),
        ),
        migrations.AddField(
            model_name="imagereview",
            name="job",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reviews",
                to="bulk_analysis.bulkanalysisjob",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="verification",
            name="job",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="verifications",
                to="bulk_analysis.bulkanalysisjob",
            ),
        ),
        migrations.AlterField(
            model_name="imagereview",
            name="job",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reviews",
                to="bulk_analysis.bulkanalysisjob",
            ),
        ),
    ]
