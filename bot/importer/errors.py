"""What a rejected extract reports: `ImportFailed` (the lines to show) and `Errors`, which
collects `list[index].field` errors in file order and keeps only the first few hundred."""

from __future__ import annotations

from typing import Any

from bot.importer.spec import LIST_ORDER

ERROR_CAP = 100


class ImportFailed(Exception):
    """The extract was rejected; `errors` are the lines to show (already capped)."""

    def __init__(self, errors: list[str], total: int | None = None) -> None:
        self.errors = errors
        self.total = total if total is not None else len(errors)
        super().__init__(errors[0] if errors else "import failed")

    def lines(self) -> list[str]:
        shown = list(self.errors[:ERROR_CAP])
        if self.total > len(shown):
            shown.append(f"... and {self.total - len(shown)} more")
        return shown


class Errors:
    """Errors sorted by list and index when shown; only the first few hundred are kept."""

    KEEP = ERROR_CAP * 5

    def __init__(self) -> None:
        self.total = 0
        self._items: list[tuple[int, int, int, str]] = []
        self._seq = 0

    def add(self, message: str, list_name: str | None = None, index: int = -1) -> None:
        self.total += 1
        if len(self._items) < self.KEEP:
            order = LIST_ORDER.index(list_name) if list_name in LIST_ORDER else -1
            self._seq += 1
            self._items.append((order, index, self._seq, message))

    def count(self, extra: int) -> None:
        """Errors found but not fetched (a query's LIMIT)."""
        self.total += extra

    def __bool__(self) -> bool:
        return self.total > 0

    def failure(self) -> ImportFailed:
        lines = [m for *_, m in sorted(self._items)]
        return ImportFailed(lines, self.total)


def show_key(key: Any) -> str:
    """A key or reference as a message may quote it: cut to 40 characters."""
    text_key = str(key)
    return text_key if len(text_key) <= 40 else text_key[:40] + "..."
