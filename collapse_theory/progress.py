"""Progress bars for long work (tqdm), shown only when asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(total: int, description: str, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``, which moves a tqdm bar by ``n`` steps (a no-op when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    with tqdm(total=total, desc=description, unit="block", leave=False) as bar:
        yield bar.update
