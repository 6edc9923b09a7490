"""The project's look lives in templates/ at the top; the app keeps its own pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.template.loader import get_template

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["admin/base_site.html", "admin/locked_out.html"])
def test_it_loads_the_project_wide_templates_from_the_top(name: str) -> None:
    origin = get_template(name).origin.name

    assert Path(origin) == ROOT / "templates" / name


@pytest.mark.parametrize(
    "name", ["admin/scheduler/scenario/preview.html", "scheduler/verdicts.html"]
)
def test_it_loads_the_apps_own_pages_from_the_app(name: str) -> None:
    origin = get_template(name).origin.name

    assert Path(origin) == ROOT / "scheduler" / "templates" / name
