import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console.models import Profile


class Command(BaseCommand):
    help = "Create the first admin user if there is none, printing its generated password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        Profile.objects.update_or_create(user=user, defaults={"role": Profile.Role.ADMIN})
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the first admin user.\n  user name: {username}\n  password:  {password}\n"
                "This password is shown only once: keep it, or change it with "
                f"'python manage.py changepassword {username}'."
            )
        )
