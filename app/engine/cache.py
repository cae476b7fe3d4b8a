"""Workflows kept in memory between the steps of a case (a sticky cache).

Restoring a workflow from its stored JSON costs about a third of an engine
step. The process that ran a case's last step often runs its next one, so it
keeps the live workflow object and uses it again when the stored state is
still the version it wrote. The database stays the truth:

- an entry is used only when the stored state is, to the byte, the text that
  was saved from it (and for the same parsed spec), so a step committed by
  another process, or a database restored or recreated, is never missed;
- an entry is taken out when used, so a step that fails or rolls back cannot
  leave a half-run workflow behind: the next step loads the stored state;
- the service stores an entry only after its transaction committed.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

DEFAULT_CAPACITY = 256


class WorkflowCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, tuple[str, Any, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def take(self, key: Hashable, state_text: str, parsed: Any) -> Any | None:
        """The workflow saved as ``state_text`` on this spec, removed from the cache; else None."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None and entry[1] is parsed and entry[0] == state_text:
                self.hits += 1
                return entry[2]
            self.misses += 1
            return None

    def put(self, key: Hashable, state_text: str, parsed: Any, workflow: Any) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[key] = (state_text, parsed, workflow)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self, capacity: int | None = None) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0
            if capacity is not None:
                self.capacity = capacity

    def __len__(self) -> int:
        return len(self._entries)


workflows = WorkflowCache()
