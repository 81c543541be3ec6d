"""Every third-party package the console's own code imports is a declared dependency, not one it
happens to get through another (mozilla-django-oidc brings PyJWT and requests, boto3 brings
botocore and urllib3): a dependency's next release may drop what we rely on."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = [name.rstrip("*") for name in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares them (PyJWT, pyjwt; scikit_learn, scikit-learn)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_names() -> dict[str, str]:
    """Top-level module name -> one file of ours that imports it (absolute imports only)."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_it_declares_every_third_party_package_the_code_imports():
    declared = {canonical(re.match(r"[\w.-]+", line)[0]) for line in PYPROJECT["project"]["dependencies"]}
    distributions = packages_distributions()
    undeclared = []
    for module, where in sorted(imported_top_level_names().items()):
        if module in sys.stdlib_module_names or module in PACKAGES or module == "__future__":
            continue
        names = {canonical(dist) for dist in distributions.get(module, [])}
        assert names, f"{module} (imported in {where}) is not installed"
        if not names & declared:
            undeclared.append(f"{'/'.join(sorted(names))} ({module}, imported in {where})")
    assert undeclared == []
