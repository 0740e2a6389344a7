"""The store's memory of parsed declarations: parsing re-validates geometry, which detection
cannot afford for every candidate."""

from __future__ import annotations

import threading
from collections import OrderedDict

from deconflict.declarations import Declaration

__all__ = ["DeclarationCache"]


class DeclarationCache:
    """Parsed declarations by (id, version), least recently used first out; thread-safe."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[str, int], Declaration] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> Declaration | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, decl: Declaration) -> None:
        with self._lock:
            self._items[(decl.id, decl.version)] = decl
            if len(self._items) > self._size:
                self._items.popitem(last=False)
