"""Prepare the test provider: a signing key, one confidential client and users in groups.

setup_provider --client-id ID --client-secret S --redirect-uri URI --user NAME:PASSWORD:GROUP,GROUP ...
"""

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand
from oidc_provider.models import Client, ResponseType, RSAKey


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument("--redirect-uri", action="append", required=True)
        parser.add_argument("--user", action="append", default=[], help="name:password:group,group")

    def handle(self, *args, client_id, client_secret, redirect_uri, user, **options):
        if not RSAKey.objects.exists():
            call_command("creatersakey")
        client, _ = Client.objects.update_or_create(
            client_id=client_id,
            defaults={
                "name": "Moderation console",
                "client_type": "confidential",
                "client_secret": client_secret,
                "jwt_alg": "RS256",
                "require_consent": False,
                "_redirect_uris": "\n".join(redirect_uri),
            },
        )
        client.response_types.set([ResponseType.objects.get(value="code")])
        for spec in user:
            name, password, groups = spec.split(":")
            person, created = User.objects.get_or_create(
                username=name, defaults={"email": f"{name}@example.com", "first_name": name.title()}
            )
            if created:  # a new password would end the person's session at the provider
                person.set_password(password)
                person.save()
            person.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups.split(",") if g])
