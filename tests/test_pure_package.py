"""The pure code imports no Django and no Celery: it runs in any Python process."""

import subprocess
import sys

# Pure modules that live beside the apps that use them (the contract "The pure package imports no
# Django..." in pyproject.toml names the same ones).
PURE_OUTSIDE_THE_PACKAGE = ["hashbanks.pdq", "hashbanks.index", "verification.rules"]


def test_every_pure_module_imports_neither_django_nor_celery():
    code = (
        "import importlib, pkgutil, sys, moderation\n"
        "names = [m.name for m in pkgutil.walk_packages(moderation.__path__, 'moderation.')]\n"
        f"names += {PURE_OUTSIDE_THE_PACKAGE!r}\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names), sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'celery', 'console'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, leaked = out.stdout.strip().split(" ", 1)
    assert int(count) >= 15, "the walk should find the engine's modules"
    assert leaked == "[]"
