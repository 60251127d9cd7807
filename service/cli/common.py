"""What the command modules share: the Typer app, the console, progress bars and failing with a message."""

from __future__ import annotations

from enum import Enum
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(help="话术助手 huashu: reply suggestions for online-shop customer service.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(2)


def progress_bars() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def reporter(progress: Progress):
    """A `(stage, done, total)` callback drawing one bar per stage."""
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done)

    return report


class TaskName(str, Enum):
    intent = "intent"
    psychology = "psychology"
    knowledge = "knowledge"
    all = "all"
