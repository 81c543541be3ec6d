from collections import Counter

from django.db import migrations, models


def add_points(apps, schema_editor):
    """Each job's 0.1-bin tallies summed into its whole points (verification.tallies.levels)."""
    VerdictTally = apps.get_model("verification", "VerdictTally")
    points = Counter()
    rows = VerdictTally.objects.filter(width=1).values_list("job_id", "label", "state", "bin", "n")
    for job_id, label, state, bin_, n in rows.iterator():
        points[(job_id, label, state, bin_ // 10)] += n
    VerdictTally.objects.bulk_create(
        (
            VerdictTally(job_id=j, label=label, state=state, bin=b, width=10, n=n)
            for (j, label, state, b), n in points.items()
        ),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0009_second_review_tally"),
    ]

    operations = [
        migrations.AddField(
            model_name="verdicttally",
            name="width",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.RemoveConstraint(
            model_name="verdicttally",
            name="verdict_tally_unique",
        ),
        migrations.AddConstraint(
            model_name="verdicttally",
            constraint=models.UniqueConstraint(
                fields=("job", "width", "bin", "label", "state"), name="verdict_tally_key"
            ),
        ),
        migrations.RunPython(add_points, migrations.RunPython.noop),
    ]
