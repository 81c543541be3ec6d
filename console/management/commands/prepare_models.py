"""python manage.py prepare_models: build the local engine's model files once (converted and
quantized into DATA_DIR/models), so that the first image analysed does not wait for them."""

import time

from django.core.management.base import BaseCommand

from console.backends.base import get_backend


class Command(BaseCommand):
    help = "Build and load the local engine's networks (a no-op on the aws backend or when already built)."

    def handle(self, *args, **options):
        started = time.perf_counter()
        get_backend().prepare()
        self.stdout.write(f"Models ready in {time.perf_counter() - started:.1f} s")
