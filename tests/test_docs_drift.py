"""The docs list every setting and every model field the code has: drift fails the build.

Settings are what config/settings.py reads from the environment (`env.int("X", ...)`
and the like, found by walking its syntax tree). Each must be in a settings table of
docs/operations.md (first column) and in the Settings section of docs/design.md.
Model fields are the fields of every model in scheduler.models; each must be in its
model's entry of the data contract in docs/design.md, as in `Model(field, ...)`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.apps import apps
from django.db import models

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "config" / "settings.py"
OPERATIONS = ROOT / "docs" / "operations.md"
DESIGN = ROOT / "docs" / "design.md"

# What reads a variable: `env(...)`, `env.<cast>(...)`, `os.environ.get(...)`, `os.getenv(...)`.
ENV_READERS = {"env", "getenv", "get"}
BACKTICKED = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def environment_settings() -> set[str]:
    """Names config/settings.py reads from the environment, each with a literal name."""
    names: set[str | None] = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if isinstance(node, ast.Call) and reads_environment(node.func) and node.args:
            names.add(literal(node.args[0]))
        elif isinstance(node, ast.Subscript) and is_os_environ(node.value):
            names.add(literal(node.slice))
    return {name for name in names if name}


def literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def reads_environment(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "env"
    if not isinstance(func, ast.Attribute):
        return False
    owner = func.value
    if isinstance(owner, ast.Name) and owner.id == "env":
        return True  # env.int, env.bool, env.str, env.list, env.db, ...
    if isinstance(owner, ast.Name) and owner.id == "os":
        return func.attr == "getenv"
    return is_os_environ(owner) and func.attr in ENV_READERS


def is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def settings_tables() -> set[str]:
    """Setting names in the first column of every table in docs/operations.md."""
    names: set[str] = set()
    for line in OPERATIONS.read_text().splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            names.update(BACKTICKED.findall(cells[1]))
    return names


def section(text: str, heading: str) -> str:
    """The body of the `## heading` section (up to the next heading of that level)."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/design.md has no '## {heading}' section"
    return match.group(1)


def test_it_lists_every_setting_read_from_the_environment_in_the_operations_table() -> None:
    missing = sorted(environment_settings() - settings_tables())

    assert not missing, (
        "config/settings.py reads these from the environment, but no settings table in "
        f"docs/operations.md lists them (first column, in backticks): {', '.join(missing)}"
    )


def test_it_lists_only_settings_that_exist_in_the_operations_table() -> None:
    stale = sorted(settings_tables() - environment_settings())

    assert not stale, (
        "docs/operations.md lists settings that config/settings.py does not read from the "
        f"environment: {', '.join(stale)}"
    )


def test_it_names_every_setting_in_the_design() -> None:
    named = set(BACKTICKED.findall(section(DESIGN.read_text(), "Settings")))
    missing = sorted(environment_settings() - named)

    assert not missing, (
        "config/settings.py reads these from the environment, but the Settings section of "
        f"docs/design.md does not name them: {', '.join(missing)}"
    )


def test_it_reads_the_settings_the_way_the_drift_tests_see_them() -> None:
    """A guard on the AST walk itself: a few settings read in different ways are found."""
    found = environment_settings()

    assert {"DEBUG", "DATABASE_URL", "ALLOWED_HOSTS", "QUIET_HOURS", "LOG_LEVEL"} <= found


def contract_fields(contract: str, model: str) -> set[str] | None:
    """The field names in `Model(a, b (note, more), c)` of the contract; None if absent."""
    start = contract.find(f"`{model}(")
    if start < 0:
        return None
    depth, names, current = 0, set(), ""
    for char in contract[start + len(model) + 2 :]:
        if char == "(":
            depth += 1
        elif char == ")" and depth == 0:
            break
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            names.add(leading_name(current))
            current = ""
            continue
        current += char
    names.add(leading_name(current))
    return names


def leading_name(entry: str) -> str:
    match = re.match(r"\s*([a-z_][a-z0-9_]*)", entry)
    return match.group(1) if match else ""


def model_fields(model: type[models.Model]) -> list[str]:
    """Stored fields and many-to-many links; the automatic primary key aside."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not isinstance(f, models.AutoField)]
    return [f.name for f in [*fields, *meta.many_to_many]]


def test_it_lists_every_model_field_in_the_data_contract() -> None:
    contract = section(DESIGN.read_text(), "Data contract")
    missing: list[str] = []
    for model in apps.get_app_config("scheduler").get_models():
        name = model.__name__
        documented = contract_fields(contract, name)
        if documented is None:
            missing.append(f"{name} (no `{name}(...)` entry)")
            continue
        missing += [f"{name}.{field}" for field in model_fields(model) if field not in documented]

    assert not missing, (
        "scheduler.models has fields the data contract in docs/design.md does not list "
        f"(in the model's `Model(field, ...)` entry): {', '.join(missing)}"
    )


README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_it_keeps_the_readme_a_short_front_door() -> None:
    lines = len(README.read_text().splitlines())

    assert lines < 150, f"README.md has {lines} lines; the rest belongs in docs/"


def test_it_links_only_to_files_and_headings_that_exist() -> None:
    broken = []
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(page.read_text()):
            if "://" in target:
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists() or (anchor and anchor not in heading_anchors(linked)):
                broken.append(f"{page.relative_to(ROOT)} -> {target}")

    assert not broken, f"links to nothing: {', '.join(broken)}"
