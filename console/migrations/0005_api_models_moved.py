# ApiKey and ApiRequest now belong to the rekognition_api app, which took over their tables.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('console', '0004_viewer_by_default'),
        ('rekognition_api', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='ApiKey'), migrations.DeleteModel(name='ApiRequest')]
        ),
    ]
