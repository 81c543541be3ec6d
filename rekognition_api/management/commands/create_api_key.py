"""python manage.py create_api_key <username> [--name NAME]: a key for scripts and automation."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from rekognition_api.keys import create_api_key


class Command(BaseCommand):
    help = "Create an access key for the Rekognition-compatible API and print its id and secret."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the key is for")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}")
        if not user.is_active:
            raise CommandError(f"User {username!r} is not active")
        key, secret = create_api_key(user=user, name=name)
        self.stdout.write(f"AWS_ACCESS_KEY_ID={key.access_key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n")
