"""`pip install .` (not editable) must carry everything csbot reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_holds_catalogs_migrations_fonts_demo_data_and_desk_templates(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("csbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in [
        "bot/locales/fr/LC_MESSAGES/messages.po",
        "bot/locales/en/LC_MESSAGES/messages.po",
        "bot/store/migrations/env.py",
        "bot/store/migrations/versions/0001_initial_schema.py",
        "bot/documents/fonts/DejaVuSans.ttf",
        "bot/documents/fonts/LICENSE",
        "bot/demo/demo-extract.json",
        "dialogs/conversation.py",
        "bot/channels/sms/route.py",
        "bot/channels/telegram/render.py",
        "bot/importer/pipeline.py",
        "bot/commands/import_extract.py",
        "bot/store/migrations/versions/0009_staff_desk.py",
        "bot/store/migrations/versions/0010_alerts.py",
        "bot/desk/templates/base.html",
        "bot/desk/templates/message.html",
        "bot/desk/static/desk.css",
        "bot/desk/views/messages.py",
    ]:
        assert needed in names, needed
    assert not any(name.startswith("tests/") for name in names)
