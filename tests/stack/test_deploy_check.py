"""`python manage.py check --deploy` with the production settings, in a fresh process."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check_deploy(tmp_path, **env):
    environ = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "console.example.com",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deployment_checks_with_the_production_settings(tmp_path):
    result = check_deploy(tmp_path, DJANGO_SECURE="true", DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


def test_it_passes_them_with_the_key_generated_in_the_data_folder(tmp_path):
    environ_without_key = {"DJANGO_SECRET_KEY": "", "DJANGO_SECURE": "true"}
    result = check_deploy(tmp_path, **environ_without_key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len((tmp_path / "secret_key").read_text().strip()) >= 50


def test_it_warns_when_the_site_is_not_behind_https(tmp_path):
    result = check_deploy(tmp_path, DJANGO_SECURE="false", DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode != 0
    assert "security.W008" in result.stderr  # SECURE_SSL_REDIRECT
    assert "security.W012" in result.stderr  # SESSION_COOKIE_SECURE


def test_it_warns_about_a_weak_secret_key(tmp_path):
    result = check_deploy(tmp_path, DJANGO_SECURE="true", DJANGO_SECRET_KEY="short")
    assert result.returncode != 0
    assert "security.W009" in result.stderr
