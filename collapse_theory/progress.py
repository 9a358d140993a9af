"""Progress bars for long work (tqdm), shown only when asked for, and lines printed above them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm.auto import tqdm

__all__ = ["echo", "progress_bar"]


@contextmanager
def progress_bar(
    total: int, description: str, *, enabled: bool, unit: str = "block"
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``, which moves a tqdm bar (on stderr) by ``n`` steps of ``unit``
    (a no-op when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    with tqdm(total=total, desc=description, unit=unit, leave=False) as bar:
        yield bar.update


def echo(line: str, file: TextIO) -> None:
    """Print ``line`` to ``file`` and flush, above any progress bar on screen (the bar is
    cleared and redrawn below it)."""
    tqdm.write(line, file=file)
    file.flush()
