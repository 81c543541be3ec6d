"""Bank.hash_count, moved by the services with each change of a bank's hashes (the pages read it
instead of counting them), filled in from the rows; and the (bank, id) index a bank's page and
the admin's bank filter read its newest hashes from."""

from django.db import migrations, models
from django.db.models import Count


def backfill(apps, schema_editor):
    Bank = apps.get_model("hashbanks", "Bank")
    for pk, n in Bank.objects.annotate(n=Count("hashes")).values_list("pk", "n"):
        Bank.objects.filter(pk=pk).update(hash_count=n)


class Migration(migrations.Migration):
    dependencies = [
        ("hashbanks", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="bank",
            name="hash_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="bankhash",
            index=models.Index(fields=["bank", "id"], name="bankhash_bank_newest_idx"),
        ),
    ]
