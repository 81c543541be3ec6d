"""The pure package imports no Django and no Celery: it runs in any Python process."""

import subprocess
import sys


def test_moderation_imports_neither_django_nor_celery():
    code = (
        "import sys, moderation, moderation.taxonomy, moderation.manifests, moderation.engine, "
        "moderation.engine.heads, moderation.engine.evaluation, moderation.engine.taxonomy_map; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'celery', 'console'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
