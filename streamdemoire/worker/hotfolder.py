"""The hot folder: drop a file in DIR/inbox, find it cleaned in DIR/done.

```
DIR/inbox/x.mp4 --rename--> DIR/processing/x.mp4 --> DIR/done/x.mp4      (the input removed)
                                                 `--> DIR/failed/x.mp4 + x.mp4.reason.txt
```

- A file is taken once it is whole: when ``x.mp4.ready`` appears beside it, or when its size
  and modification time have not changed for ``settle`` seconds. Hidden files (rsync's
  temporaries), ``*.part``, ``*.tmp`` and the markers themselves are never taken.
- Claiming is a rename, so two workers never take the same file; while a worker works on a
  file in processing/ it holds an exclusive ``flock`` on it. The kernel drops that lock when
  the worker dies, however it dies, so any worker (at start and on every scan) can tell a
  crashed worker's file from one in progress and takes the former up again. Claims and that
  check happen under one folder-wide lock (DIR/.claim.lock), so a file is never seen in
  processing/ unlocked while a live worker is about to lock it.
- Outputs are written by ``jobs.clean_into_place``: done/ only ever holds complete files.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..api import Demoirer
from ..files import write_whole
from ..pipeline import CleanReport
from .jobs import (
    MAX_RETRIES,
    JobOptions,
    NullMeter,
    backoff_seconds,
    clean_into_place,
    is_transient,
    reason,
)

log = logging.getLogger("streamdemoire.worker")

MARKER = ".ready"
_SKIPPED_SUFFIXES = (MARKER, ".part", ".tmp", ".crdownload")


@dataclass
class Claim:
    """A file this worker holds in processing/; ``fd`` carries the lock until ``release``."""

    path: Path
    fd: int
    recovered: bool

    @property
    def name(self) -> str:
        return self.path.name

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


@dataclass
class HotFolder:
    root: Path
    #: Seconds a file's size and mtime must stay the same before it is taken.
    settle: float = 2.0
    _seen: dict[str, _Seen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        for folder in (self.inbox, self.processing, self.done, self.failed):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    @property
    def done(self) -> Path:
        return self.root / "done"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    def claim(self) -> Claim | None:
        """Take the next job: a crashed worker's file first, else the oldest ready input."""
        ready = self.ready_inputs()
        with self._claim_lock():
            orphan = self._take_orphan()
            if orphan is not None:
                return orphan
            for path in ready:
                claim = self._take(path)
                if claim is not None:
                    return claim
        return None

    def ready_inputs(self) -> list[Path]:
        """Inputs in inbox/ that are complete, oldest first (see the module docstring)."""
        now = time.monotonic()
        ready, present = [], set()
        for entry in _files(self.inbox):
            name = entry.name
            if name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES):
                continue
            present.add(name)
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue  # taken by another worker meanwhile
            if (self.inbox / (name + MARKER)).exists() or self._settled(name, stat, now):
                ready.append((stat.st_mtime_ns, name, entry))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return [entry for _, _, entry in sorted(ready)]

    def _settled(self, name: str, stat: os.stat_result, now: float) -> bool:
        seen = self._seen.get(name)
        if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            self._seen[name] = _Seen(stat.st_size, stat.st_mtime_ns, now)
            return self.settle <= 0
        return now - seen.since >= self.settle

    def _take(self, path: Path) -> Claim | None:
        target = self.processing / path.name
        if target.exists():
            return None  # a file of that name is still in the works: this one waits its turn
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None  # another worker took it first
        fd = os.open(target, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new in processing/: nobody else holds it
        (self.inbox / (path.name + MARKER)).unlink(missing_ok=True)
        self._seen.pop(path.name, None)
        return Claim(target, fd, recovered=False)

    def _take_orphan(self) -> Claim | None:
        for path in _files(self.processing):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # a live worker has it
                continue
            return Claim(path, fd, recovered=True)
        return None

    def succeed(self, claim: Claim) -> None:
        """The output is in done/: the input goes."""
        claim.path.unlink(missing_ok=True)
        claim.release()

    def fail(self, claim: Claim, why: str) -> None:
        """Move the input to failed/ with a text file saying why.

        The reason is written first: a crash in between leaves the input in processing/, to be
        tried (and failed, with the same reason) again, rather than an input without a reason.
        """
        note = self.failed / f"{claim.name}.reason.txt"
        write_whole(note, why + "\n")
        os.replace(claim.path, self.failed / claim.name)
        claim.release()

    def hand_back(self, claim: Claim) -> None:
        """Give an unfinished job back (the worker is stopping): to inbox/ if its name is free
        there, else it stays in processing/, unlocked, for the next worker to take up."""
        with self._claim_lock():
            back = self.inbox / claim.name
            if not back.exists():
                with contextlib.suppress(OSError):
                    os.rename(claim.path, back)
            claim.release()

    @contextlib.contextmanager
    def _claim_lock(self) -> Iterator[None]:
        fd = os.open(self.root / ".claim.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _files(folder: Path) -> list[Path]:
    """Regular files directly in ``folder`` (not following links into other folders)."""
    files = []
    with os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_file():
                    files.append(Path(entry.path))
    return files


class HandBack(BaseException):
    """Raised in the job when the grace period after SIGTERM runs out: stop and give it back.

    A BaseException, like KeyboardInterrupt, so the pipeline stops all its stages for it and
    no ``except Exception`` on the way mistakes it for the job's own failure.
    """


@dataclass
class HotFolderWorker:
    """Takes jobs from a ``HotFolder`` one at a time until SIGTERM (or SIGINT).

    On SIGTERM it stops taking work; a job in progress gets ``grace`` seconds to finish and
    is then handed back (``HotFolder.hand_back``); nothing half-written is left either way.
    """

    folder: HotFolder
    demoirer: Demoirer
    options: JobOptions
    grace: float = 30.0
    new_meter: Callable[[], NullMeter] = NullMeter
    state: str = "idle"
    job: str | None = None
    _stopping: bool = False
    _interruptible: bool = False
    _overdue: bool = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGALRM, self._on_grace_over)
        log.info("watching %s (inbox/ -> done/ | failed/)", self.folder.root)
        while not self._stopping:
            claim = self.folder.claim()
            if claim is None:
                self._sleep(self._poll_s)
            else:
                self._handle(claim)
        log.info("stopped")

    def health(self) -> dict:
        return {"ok": not self._stopping, "mode": "watch", "folder": str(self.folder.root),
                "state": "stopping" if self._stopping else self.state, "job": self.job}

    @property
    def _poll_s(self) -> float:
        return min(1.0, max(0.1, self.folder.settle / 4))

    def _on_stop(self, signum: int, frame: object) -> None:
        if self._stopping and signum == signal.SIGINT:
            self._grace_over()  # a second Ctrl-C: do not wait
        self._stopping = True
        if self.job is None:
            return
        log.info("stopping: %s gets %g s to finish", self.job, self.grace)
        if self.grace <= 0:
            self._grace_over()
        else:
            signal.setitimer(signal.ITIMER_REAL, self.grace)

    def _on_grace_over(self, signum: int, frame: object) -> None:
        self._grace_over()

    def _grace_over(self) -> None:
        self._overdue = True
        if self._interruptible:
            raise HandBack

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            time.sleep(min(0.1, seconds))

    def _handle(self, claim: Claim) -> None:
        self.state, self.job = "working", claim.name
        log.info("%s %s", "recovered (left in processing/ by a stopped worker)"
                 if claim.recovered else "took", claim.name)
        try:
            self._attempts(claim)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.state, self.job = "idle", None

    def _attempts(self, claim: Claim) -> None:
        for attempt in range(MAX_RETRIES + 1):
            meter = self.new_meter()
            try:
                report = self._clean(claim, meter)
            except HandBack:
                meter.finish("handed_back")
                self.folder.hand_back(claim)
                log.info("handed back %s (stopping)", claim.name)
                return
            except Exception as exc:
                why = reason(exc)
                if is_transient(exc) and attempt < MAX_RETRIES and not self._stopping:
                    meter.finish("retried")
                    delay = backoff_seconds(attempt)
                    log.warning("%s: %s; retrying in %.0f s", claim.name, why, delay)
                    self._sleep(delay)
                    continue
                meter.finish("failed")
                self.folder.fail(claim, why)
                log.warning("failed %s: %s", claim.name, why)
                return
            meter.finish("succeeded", report, str(self.demoirer.engine.device))
            self.folder.succeed(claim)
            log.info("done %s: %d frames in %.1f s (%.1f fps)", claim.name, report.frames,
                     report.seconds, report.fps)
            return

    def _clean(self, claim: Claim, meter: NullMeter) -> CleanReport:
        """The job itself: the one stretch where the grace timer may interrupt."""
        self._interruptible = True
        try:
            if self._overdue:
                raise HandBack
            return clean_into_place(claim.path, self.folder.done / claim.name, self.demoirer,
                                    self.options, job_key=f"hotfolder-{claim.name}",
                                    on_progress=meter.on_progress)
        finally:
            self._interruptible = False
