"""The README says what the code does: endpoints, commands and settings match."""

import re
from pathlib import Path

from service.api.app import create_app
from service.cli import app as cli
from service.config import Settings
from service.api.routes import ui

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_every_endpoint_in_the_readme_exists_and_every_route_is_documented():
    documented = set(re.findall(r"^\| (GET|POST|PUT|DELETE) \| `([^`]+)`", _section("API"), re.M))
    app = create_app(Settings())
    paths = app.openapi()["paths"]
    routes = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    # The pages are left out of the schema; their scripts and styles are not endpoints to document.
    pages = {("GET", r.path) for r in ui.router.routes if "{" not in r.path}
    assert pages and documented == routes | pages | {("GET", "/docs")}


def test_every_cli_command_is_in_the_readme():
    commands = {c.name or c.callback.__name__ for c in cli.registered_commands}
    for command in commands:
        assert f"huashu {command}" in _section("Command line"), command


def test_every_setting_is_in_the_configuration_table():
    documented = set(re.findall(r"`HUASHU_([A-Z_]+)`", _section("Configuration")))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_readme_starts_with_the_two_commands():
    assert README.index("make serve") < README.index("## Example") < README.index("## API")
