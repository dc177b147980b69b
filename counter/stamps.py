"""Write stamps per site, shared by the worker processes of one host.

Every write to a site (a hit, a heartbeat, a bot, an admin change) leaves a
new stamp in the site's slot after it reached Redis. A worker that cached a
site's stats keeps the stamp it saw before its read, and uses the cache only
while the slot still holds that stamp: a write through any worker of the
host is seen by the next read through any other.

Under gunicorn the slots live in a file in the directory the workers share
(PROMETHEUS_MULTIPROC_DIR, set by deploy/gunicorn.conf.py), mapped into each
worker's memory; otherwise in this process's memory, shared by its apps.
"""

from __future__ import annotations

import itertools
import mmap
import os
import secrets
import struct
import zlib

SLOTS = 4096  # sites hash into these; a collision only costs an extra read
SIZE = SLOTS * 8
FILE_NAME = "counter-stats-stamps"
_STAMP = struct.Struct("=Q")


class Stamps:
    """A table of 64-bit stamps, one slot per site."""

    def __init__(self, path: str | None = None) -> None:
        """Map the table at `path` (created if missing), or keep it in this process."""
        if path:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < SIZE:
                    os.ftruncate(fd, SIZE)
                self._table = mmap.mmap(fd, SIZE)
            finally:
                os.close(fd)
        else:
            self._table = bytearray(SIZE)
        self.shared = bool(path)
        # Stamps are unique: the writer's pid and a counter from a random start.
        self._next = itertools.count(secrets.randbits(32))
        self._slots: dict[str, int] = {}

    def _slot(self, site: str) -> int:
        """Return the byte offset of `site`'s slot."""
        offset = self._slots.get(site)
        if offset is None:
            offset = self._slots[site] = (zlib.crc32(site.encode()) % SLOTS) * 8
        return offset

    def read(self, site: str) -> int:
        """Return the site's current stamp."""
        return _STAMP.unpack_from(self._table, self._slot(site))[0]

    def bump(self, site: str) -> None:
        """Leave a new stamp: whatever was cached for `site` before is out of date."""
        stamp = (os.getpid() << 32 | next(self._next) & 0xFFFFFFFF) & 0xFFFFFFFFFFFFFFFF
        _STAMP.pack_into(self._table, self._slot(site), stamp)


_LOCAL: Stamps | None = None


def for_this_host() -> Stamps:
    """Return the stamps shared by this host's workers, or this process's own."""
    global _LOCAL
    shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if shared_dir and os.path.isdir(shared_dir):
        return Stamps(os.path.join(shared_dir, FILE_NAME))
    if _LOCAL is None:
        _LOCAL = Stamps()
    return _LOCAL
