"""Reading an extract: opening it, skipping a UTF-8 BOM, and walking the JSON as a stream
(ijson) one top-level scalar or list record at a time; JSON syntax errors as messages that
never quote the file's text."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from bot.importer.errors import ImportFailed

try:  # the C backend is ~10x faster; the pure-Python one is always there
    _IJSON = ijson.get_backend("yajl2_c")
except Exception:  # pragma: no cover - depends on the wheel installed
    _IJSON = ijson


def open_source(source: str | Path | BinaryIO) -> tuple[BinaryIO, Path | None, bool]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            handle: BinaryIO = path.open("rb")
        except FileNotFoundError:
            raise ImportFailed([f"{path}: no such file"]) from None
        except IsADirectoryError:
            raise ImportFailed([f"{path}: is a folder, not a file"]) from None
        except OSError as exc:
            raise unreadable(path, exc) from None
        return handle, path, True
    return source, None, False


def unreadable(path: Path | None, exc: OSError) -> ImportFailed:
    where = f"{path}: " if path else ""
    return ImportFailed([f"{where}cannot be read ({exc.strerror or exc})"])


def skip_bom(handle: BinaryIO) -> BinaryIO:
    head = handle.read(3)
    if head == b"\xef\xbb\xbf":
        return handle
    if hasattr(handle, "seekable") and handle.seekable():
        handle.seek(0)
        return handle
    return io.BufferedReader(_Prefixed(head, handle))


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _build(event: str, value: Any, events: Iterator[tuple[str, Any]], dups: list[str]) -> Any:
    """Build one JSON value from basic_parse events (maps, arrays, scalars)."""
    if event == "start_map":
        root: Any = {}
    elif event == "start_array":
        root = []
    else:
        return value
    stack: list[tuple[Any, Any]] = []
    current: Any = root
    key: Any = None
    for event, value in events:
        if event == "map_key":
            key = value
            if key in current:
                dups.append(key)
        elif event == "start_map" or event == "start_array":
            child: Any = {} if event == "start_map" else []
            if type(current) is dict:
                current[key] = child
            else:
                current.append(child)
            stack.append((current, key))
            current = child
        elif event == "end_map" or event == "end_array":
            if not stack:
                return root
            current, key = stack.pop()
        elif type(current) is dict:
            current[key] = value
        else:
            current.append(value)
    raise ijson.IncompleteJSONError("Incomplete JSON content")


@dataclass
class Item:
    kind: str  # "scalar" (top-level key/value), "record", "not_list", "not_object", "bad_root"
    key: str = ""
    index: int = -1
    value: Any = None
    dups: list[str] = field(default_factory=list)


def walk(source: BinaryIO) -> Iterator[Item]:
    """The top-level object's scalars and each list's records, in file order, one at a time."""
    events = iter(_IJSON.basic_parse(source, use_float=False))
    event, value = next(events, ("end", None))
    if event != "start_map":
        if event != "end":
            _build(event, value, events, [])
        yield Item("bad_root")
        return
    for event, value in events:
        if event == "end_map":
            return
        key = value
        event, value = next(events)
        if event != "start_array":
            dups: list[str] = []
            yield Item("scalar", key, value=_build(event, value, events, dups))
            continue
        yield Item("list_start", key)
        for index, (event, value) in enumerate(events):
            if event == "end_array":
                break
            dups = []
            item = _build(event, value, events, dups)
            if type(item) is dict:
                yield Item("record", key, index, item, dups)
            else:
                yield Item("not_object", key, index)
    raise ijson.IncompleteJSONError("Incomplete JSON content")


def _json_error_location(path: Path) -> tuple[int, int] | str | None:
    """Line and column of a JSON syntax error, or "incomplete" when the file stops short,
    found by re-reading with the Python backend (the C backend's message quotes the text
    around the error, which may hold an SSN, and gives no position)."""
    python_backend = ijson.get_backend("python")
    try:
        with path.open("rb") as handle:
            for _ in python_backend.basic_parse(handle, use_float=False):
                pass
    except ijson.IncompleteJSONError:
        return "incomplete"
    except ijson.JSONError as exc:
        match = re.search(r" at (\d+)$", str(exc))
        if not match:
            return None
        offset = int(match.group(1))
    except Exception:
        return None
    else:
        return None
    line, column, seen = 1, 1, 0
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        while seen < offset:
            chunk = handle.read(min(1 << 16, offset - seen))
            if not chunk:
                break
            newlines = chunk.count("\n")
            if newlines:
                line += newlines
                column = len(chunk) - chunk.rfind("\n")
            else:
                column += len(chunk)
            seen += len(chunk)
    return line, column


def json_error_message(exc: Exception, path: Path | None) -> str:
    # Never include the parser's own message: yajl quotes the text around the error.
    location = _json_error_location(path) if path is not None else None
    if location == "incomplete" or (location is None and "premature EOF" in str(exc)):
        return "invalid JSON: the file ends before the JSON object does"
    if isinstance(location, tuple):
        return f"invalid JSON at line {location[0]}, column {location[1]}"
    return "invalid JSON"
