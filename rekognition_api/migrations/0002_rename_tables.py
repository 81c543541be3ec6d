from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('rekognition_api', '0001_initial'),
        ('console', '0005_api_models_moved'),
    ]

    operations = [
        migrations.AlterModelTable(name='apikey', table=None),
        migrations.AlterModelTable(name='apirequest', table=None),
    ]
