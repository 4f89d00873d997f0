"""The done log: a journal's completions as 16-byte records in small mapped files beside its database.

A finished task must be recorded as done, in a way that survives a process
crash, before its worker takes the next task. A SQLite commit does that but
costs 100-250 us under load; 16 bytes copied into a shared memory mapping of
a file cost well under a microsecond and survive a process crash just as
well: the mapped pages are the file's pages in the OS page cache, which the
kernel writes out whatever becomes of the process (no fsync, so not a power
loss). So a :class:`~jirabucket.queue.journal.Journal` records "this task is
done" in a :class:`DoneLog` of its own, and its group commit folds the log
into SQLite: it deletes the rows, then empties the files.

**Why a mapping, not ``write(2)``.** A ``write(2)`` costs about as little, but
CPython releases the GIL around it, and the worker must then wait to get the
GIL back from the threads that took it: with the queue's workers busy, that
wait (not the write) cost a third of the durable throughput. ``mmap.write``
copies the record with the GIL held, and it also claims the record's place:
it writes at the mapping's position and moves it on in one call, so
concurrent workers never take the same place. A file holds
:data:`RECORDS_PER_FILE` records; when the active one is full, :meth:`DoneLog.append`
says so and the journal commits that completion instead. Each file's blocks
are allocated when it is made (``posix_fallocate``, or zeros written), so a
full disk fails the creation, with an ``OSError``, instead of a later store
into the mapping, which would be a ``SIGBUS``. Files are never truncated while
mapped, for the same reason: they are emptied by zeroing what was written.

**Files.** ``<database>.done-<pid>-<random>-<n>``, each held with
``flock(LOCK_EX)`` by the journal writing it for as long as it is open. Two
per journal, used in turn: the group commit *seals* the active file as it takes
the buffered changes, switches to the other one, commits, and only then empties
the sealed file. The journal buffers a task's deletion before it writes the
record, so every record in a sealed file has its deletion in the batch being
committed or in an earlier one (a record that lands after its file was sealed,
or even emptied, names a row whose deletion is already on its way: it is at
worst stale, see below). A commit that fails keeps its sealed files (a spare
file is made if need be); the next commit holds their deletions again and
empties them all.

**Appends take no lock.** Workers write records concurrently, each with one
``mmap.write`` under the GIL (see above). A file is released by ``dup2``-ing
``/dev/null`` over its descriptor (which drops the file and its lock at once);
its mapping, and the descriptor, are closed only when the last reference to its
:class:`_LogFile` goes, so a writer that still holds one writes into the file
it meant (removed or not), never into another that reused a number.

**Records.** ``struct "<qd"``: the task id and the ``created_at`` of its row. A
record deletes only the row with *both*, so a record that outlived its
deletion (the process died between the commit and the emptying, or a power
loss lost the emptying) can never delete another task that got the same id
later, whatever the order in which files and database reached the disk. A
trailing partial record and all-zero records (the unused rest of a file) are
ignored.

**Orphans.** A log whose lock can be taken belongs to a journal that is gone.
The next journal opened on the database folds such logs and removes them
before it computes its first task id (:func:`claim_orphans`). Logs of live
journals are left alone; readers filter their records out instead
(:func:`done_elsewhere`), so a task done in another process is not shown as
pending.

Needs ``fcntl.flock`` (POSIX). Where it is missing, :data:`SUPPORTED` is false
and the journal commits each completion to SQLite instead.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import itertools
import mmap
import os
import secrets
import struct
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

if sys.platform == "win32":  # no flock: the journal commits completions one by one instead
    SUPPORTED = False
else:
    import fcntl

    SUPPORTED = True

__all__ = [
    "RECORDS_PER_FILE", "SUPPORTED", "DoneLog", "OrphanLogs", "claim_orphans", "done_elsewhere", "parse_records",
]

_RECORD = struct.Struct("<qd")  # task id, the row's created_at
RECORD_SIZE = _RECORD.size
RECORDS_PER_FILE = 32_768
"""Records a log file holds (512 KiB): 0.6 s of completions at 50,000 tasks/s; group commits come every 50 ms."""
_FILE_SIZE = RECORDS_PER_FILE * RECORD_SIZE
_MARK = ".done-"


@dataclass(slots=True, eq=False)
class _LogFile:
    """One open log file: its path, its descriptor (holding the flock), its mapping, whether it has records.

    Released, the descriptor points at ``/dev/null`` until the object goes (so
    the number is not reused while the object lives); the mapping stays on the
    file until then, so a writer still holding it writes into that file.
    """

    path: str
    fd: int
    mapped: mmap.mmap | None = None  # only the journal writing it maps a file
    dirty: bool = False

    def release(self) -> None:
        """Drop the file and its lock; the descriptor stays valid (``/dev/null``)."""
        if self.mapped is not None:  # the mapping holds a duplicate of the descriptor, and so the lock
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.dup2(_devnull(), self.fd, inheritable=False)

    def empty(self) -> None:
        """Zero the records written so far and start again at the beginning."""
        mapped = self.mapped
        if mapped is not None:
            # A late record (see the module docstring) may land at any point in between: past
            # ``end`` it stays behind the new start, stale and harmless, until overwritten.
            end = mapped.tell()
            mapped[:end] = bytes(end)
            mapped.seek(0)
        self.dirty = False

    def __del__(self) -> None:
        with contextlib.suppress(OSError, ValueError, BufferError):
            if self.mapped is not None:
                self.mapped.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _allocate(fd: int, size: int) -> None:
    """Give the file ``size`` bytes of real blocks (zeros), or raise (``ENOSPC``) if the disk has none."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
        return
    zeros = bytes(1 << 16)  # macOS has no posix_fallocate: write the zeros
    done = 0
    while done < size:
        done += os.pwrite(fd, zeros[:size - done], done)


@functools.cache
def _devnull() -> int:
    return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)


class DoneLog:
    """The log files of one journal instance: one active, the sealed ones, a spare.

    :meth:`append` may be called from any thread at any time; the other methods
    under the journal's lock for the log.

    Args:
        database: The journal's database file; the logs go beside it.

    Raises:
        OSError: A log file cannot be created (read-only directory, full disk).
    """

    def __init__(self, database: str) -> None:
        self._prefix = f"{database}{_MARK}{os.getpid()}-{secrets.token_hex(4)}-"
        self._serial = itertools.count()
        self._active = self._create()
        self._sealed: list[_LogFile] = []
        self._spares: list[_LogFile] = []
        try:
            self._spares.append(self._create())  # made now, so a commit rarely creates a file
        except OSError:
            self.close(remove=True)
            raise

    def _create(self) -> _LogFile:
        """Create a new log file, locked before any other journal could take it for an orphan."""
        while True:
            path = f"{self._prefix}{next(self._serial)}"
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            log = _LogFile(path, fd)  # closes the descriptor when dropped
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks only while an opening journal inspects it
            if os.fstat(fd).st_nlink:
                try:
                    _allocate(fd, _FILE_SIZE)
                    log.mapped = mmap.mmap(fd, _FILE_SIZE)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(path)  # empty: nothing to fold
                    raise
                return log
            # That journal took it for an orphan (it was not locked yet) and removed it: make another.

    def append(self, task_id: int, created_at: float) -> bool:
        """Record a task as done, durable across a process crash (no lock, the GIL kept).

        Args:
            task_id: The task's id.
            created_at: Its row's ``created_at``.

        Returns:
            ``False`` if the active file is full (the group commit empties it): the
            caller must make the completion durable another way.
        """
        active = self._active
        active.dirty = True  # before the write: a seal that misses the flag leaves the file active
        mapped = active.mapped  # never None: this log's own files are mapped
        try:
            return mapped is not None and mapped.write(_RECORD.pack(task_id, created_at)) == RECORD_SIZE
        except ValueError:  # "data out of range": full
            return False

    def seal(self) -> tuple[_LogFile, ...]:
        """Switch to another file if the active one has records; return every sealed file.

        The group commit calls this as it takes the buffered changes: each record in
        a returned file has its deletion among them or already committed.

        Returns:
            The files to empty with :meth:`committed` once the commit went through.
        """
        if self._active.dirty:
            try:
                spare = self._spares.pop() if self._spares else self._create()
            except OSError:
                pass  # the active file keeps its records (and gets more) until a spare can be made
            else:
                self._sealed.append(self._active)
                self._active = spare
        return tuple(self._sealed)

    def committed(self, sealed: tuple[_LogFile, ...]) -> None:
        """Empty the files of a commit that went through; they become spares.

        Args:
            sealed: What :meth:`seal` returned for that commit.

        """
        for log in sealed:
            log.empty()
            self._sealed.remove(log)
            self._spares.append(log)

    def paths(self) -> frozenset[str]:
        """Return the paths of this journal's own files.

        Returns:
            The paths.
        """
        return frozenset(log.path for log in self._files())

    def _files(self) -> Iterator[_LogFile]:
        yield self._active
        yield from self._sealed
        yield from self._spares

    def close(self, *, remove: bool) -> None:
        """Close the files, releasing their locks.

        Args:
            remove: Delete them too (their records are all committed). ``False``
                leaves them for the next journal opened on the database to fold.

        Raises:
            OSError: A file could not be deleted (every file is closed all the same).
        """
        _close_all(list(self._files()), remove=remove)


@dataclass(slots=True)
class OrphanLogs:
    """Logs of journals that are gone, locked by the journal that claimed them.

    Args:
        files: The claimed files (open, locked).
        records: Their records, ``(task id, created_at)``.
    """

    files: list[_LogFile] = field(default_factory=list)
    records: list[tuple[int, float]] = field(default_factory=list)

    def remove(self) -> None:
        """Delete the files (their records were folded) and release them.

        Raises:
            OSError: A file could not be deleted (every file is released all the same).
        """
        _close_all(self.files, remove=True)

    def release(self) -> None:
        """Release the files without deleting them (the fold failed: the next journal tries)."""
        with contextlib.suppress(OSError):
            _close_all(self.files, remove=False)


def claim_orphans(database: str) -> OrphanLogs:
    """Lock and read the logs beside ``database`` whose journal is gone.

    A log whose lock is held belongs to a live journal and is skipped.

    Args:
        database: The journal's database file.

    Returns:
        The claimed logs; fold their records, then :meth:`OrphanLogs.remove` them.

    Raises:
        OSError: A log could not be opened, locked or read.
    """
    orphans = OrphanLogs()
    try:
        for path in _log_paths(database):
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # removed meanwhile (its journal closed, or another one folded it)
            log = _LogFile(path, fd)  # closes the descriptor when dropped
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its journal is alive
            if not os.fstat(fd).st_nlink:
                continue  # folded and removed by another journal meanwhile
            orphans.files.append(log)
            orphans.records.extend(parse_records(_read_all(fd)))
    except BaseException:
        orphans.release()
        raise
    return orphans


def done_elsewhere(database: str, *, own: Collection[str] = ()) -> set[tuple[int, float]]:
    """Return the records of the other journals' logs beside ``database`` (live ones included).

    Read without their locks: a record is only ever added for a finished task, so
    whatever this sees is done, even if its deletion is not committed yet.

    Args:
        database: The journal's database file.
        own: Paths to skip (the caller's own logs).

    Returns:
        ``(task id, created_at)`` of tasks done and maybe not yet deleted.
    """
    done: set[tuple[int, float]] = set()
    for path in _log_paths(database):
        if path in own:
            continue
        try:
            with open(path, "rb") as file:
                done.update(parse_records(file.read()))
        except FileNotFoundError:
            continue
    return done


def parse_records(data: bytes) -> list[tuple[int, float]]:
    """Decode log bytes, ignoring a trailing partial record and all-zero ones.

    Args:
        data: A log file's content.

    Returns:
        ``(task id, created_at)`` per record.
    """
    whole = len(data) - len(data) % RECORD_SIZE
    return [(task_id, stamp) for task_id, stamp in _RECORD.iter_unpack(data[:whole]) if task_id > 0]


def _log_paths(database: str) -> list[str]:
    return sorted(glob.glob(f"{glob.escape(database)}{_MARK}*"))


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _close_all(files: list[_LogFile], *, remove: bool) -> None:
    """Release every file (deleting it first if ``remove``); raise the first failure at the end."""
    failure: OSError | None = None
    for log in files:
        if remove:
            try:
                os.unlink(log.path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                failure = failure or exc
        try:
            log.release()
        except OSError as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
