from django.db import migrations, models
from django.db.models import Count


def count_found(apps, schema_editor):
    """The finished checks' suspects, counted once."""
    LabelCheck = apps.get_model("quality", "LabelCheck")
    for check in LabelCheck.objects.filter(status="DONE").annotate(n=Count("suspects")).only("pk"):
        LabelCheck.objects.filter(pk=check.pk).update(found=check.n)


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0002_prelabeling"),
    ]

    operations = [
        migrations.AddField(
            model_name="labelcheck",
            name="found",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_found, migrations.RunPython.noop),
    ]
