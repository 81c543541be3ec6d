"""The pure package: taxonomy, manifests and the local engine. Imports no Django and no Celery."""
