"""Whole log lines where no terminal shows them: CI logs, CloudWatch, `make run | tee`, a file.

Kedro's default handler (rich) draws each record as a table as wide as the terminal. Without a
terminal, rich assumes 80 columns and wraps every longer message over several lines: a path, a
dataset's location, the MLflow run id of the run summary come out cut in two, and a search for
them finds nothing. `use_plain_lines`, called by the run summary hook first thing in every
session, puts a plain handler in its place: one line per record (more only where the message has
line breaks). A terminal keeps rich, and so do Jupyter, `FORCE_COLOR` and `TTY_COMPATIBLE=1`
(rich's own test of a terminal decides). A `COLUMNS` setting keeps rich too: its owner chose
the width.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import IO, Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class PlainLineHandler(logging.StreamHandler):
    """One line per record, written to the stream rich's console writes to at that moment.

    The stream is looked up at each record, like rich's console does: pytest and notebooks swap
    `sys.stdout` after the handler is made, and a stream fixed at that time would be closed.
    `setStream` still works as on any StreamHandler: a stream set there is kept.
    """

    def __init__(self, console: Any):
        logging.Handler.__init__(self)  # not StreamHandler's, which would fix sys.stderr
        self._console = console
        self._chosen: IO[str] | None = None
        self.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))

    @property
    def stream(self) -> IO[str]:  # type: ignore[override]
        """Return the stream set with `setStream`, else the console's current file."""
        return self._chosen if self._chosen is not None else self._console.file

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        self._chosen = value


def use_plain_lines() -> None:
    """Replace the root logger's rich handlers by plain lines when their output is no terminal."""
    rich_logging = sys.modules.get("rich.logging")
    if rich_logging is None or os.environ.get("COLUMNS", "").strip().isdigit():
        return  # no rich handler, or a width chosen for it (read as rich reads it)
    root = logging.getLogger()
    for position, handler in enumerate(root.handlers):
        if not isinstance(handler, rich_logging.RichHandler):
            continue
        console = handler.console
        if console.is_terminal or console.is_jupyter:
            continue
        plain = PlainLineHandler(console)
        plain.setLevel(handler.level)
        for log_filter in handler.filters:
            plain.addFilter(log_filter)
        root.handlers[position] = plain
