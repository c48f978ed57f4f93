"""The one path every frame takes: decode thread -> model stage thread(s) -> encode thread.

```
source.batches() --[queue]--> infer --[queue]--> smooth --[queue]--> sink.write()
   decode thread          the network     the temporal smoother      encode thread
```

Every stage is a thread of its own and they overlap, so a clip takes about as long as its
slowest stage. The model is one stage, or several where the transform says how it splits
(``model_stages``): a ``Demoirer`` runs its network and its temporal smoother in two, so the
smoother's many small operations on one batch fill the cores the network leaves idle while it
works on the next (on a CPU, torch releases the GIL inside each operation). Each stage takes
its batches in order from one queue and hands them on in order, so order is kept.

The queues are bounded (``depth`` batches each; one between two model stages) so memory
stays flat however long the input is; what happens when a queue is full is the job's
``DropPolicy``: a file job waits (``BLOCK``: no frame is ever dropped, duplicated or
reordered), a live job drops the oldest queued batch and counts it.

A live job also hands it ``max_age``: a batch whose oldest frame has already waited longer
than that when the model could start on it is dropped (and counted) too, so nothing waits in
a queue longer than the latency bound; and every frame that reaches the sink has its latency,
received to encoded, measured (``PipelineStats.latency``).

``Pipeline`` knows nothing about files: ``clean``, ``live``, ``bench`` and the worker differ
only in the source, the sink and the policy they hand it. ``clean_file`` is the file job.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from . import signals
from .io import Batch, EncodeSettings, FileSink, FileSource, check_output_path
from .io.image import read_image, write_image

log = logging.getLogger(__name__)

#: The model stage: uint8 RGB frames N x H x W x 3 in, the same shape and dtype out
#: (a ``Demoirer`` is one).
Transform = Callable[[np.ndarray], np.ndarray]


def model_stages(transform: Transform) -> list[Transform]:
    """The model as the pipeline runs it: the stages ``transform.stages()`` lists where it has
    that method (a ``Demoirer``: network, then temporal smoother), each in a thread of its own
    and fed the previous one's output; else the transform itself, in one thread."""
    stages = getattr(transform, "stages", None)
    return list(stages()) if callable(stages) else [transform]


def reset_stream(transform: Transform) -> None:
    """Tell a stateful transform (a ``Demoirer`` with temporal smoothing) that a new stream
    begins, so it keeps nothing of the last one; a worker reuses one model across jobs, and a
    live source calls this on a reconnect. Plain functions have no state and no ``reset``."""
    reset = getattr(transform, "reset", None)
    if callable(reset):
        reset()


class Source(Protocol):
    def batches(self, size: int) -> Iterator[Batch]:
        """Frames in display order, ``size`` at a time (the last batch may be shorter)."""


class Sink(Protocol):
    def write(self, batch: Batch) -> None:
        """Take one processed batch; called from the encode thread, in order."""


class DropPolicy(enum.Enum):
    #: Wait for the slower stage (back-pressure): file jobs, nothing is ever lost.
    BLOCK = "block"
    #: Discard the oldest queued batch, with what rides along, to make room: live jobs,
    #: where late is useless.
    DROP_OLDEST = "drop_oldest"


class LatencyMeter:
    """Per-frame latencies in 1 ms bins: percentiles in constant memory however long a live
    job runs (a list of every frame's latency would grow by millions a day)."""

    BIN_S = 0.001
    #: Bins up to 10 s; a later frame counts in the last bin (its exact value still sets max).
    BINS = 10_000

    def __init__(self) -> None:
        self.counts = np.zeros(self.BINS, np.int64)
        self.max = 0.0

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def add(self, seconds: float) -> None:
        # Bin k holds (k, k + 1] ms, counted in whole microseconds so that float noise does
        # not push an exact 50 ms into the 51 ms bin.
        index = (round(seconds * 1_000_000) - 1) // round(self.BIN_S * 1_000_000)
        self.counts[min(max(index, 0), self.BINS - 1)] += 1
        self.max = max(self.max, seconds)

    def percentile(self, q: float) -> float | None:
        """The q-th percentile in seconds, rounded up to its bin's end (never below the true
        value, never above ``max``); None before the first frame."""
        total = self.count
        if total == 0:
            return None
        rank = max(math.ceil(q / 100 * total), 1)
        index = int(np.searchsorted(np.cumsum(self.counts), rank))
        return min((index + 1) * self.BIN_S, self.max)

    def copy(self) -> LatencyMeter:
        meter = LatencyMeter()
        meter.counts, meter.max = self.counts.copy(), self.max
        return meter

    def since(self, earlier: LatencyMeter) -> LatencyMeter:
        """The frames measured after ``earlier`` (a ``copy()`` of this meter), for a periodic
        log of the last few seconds; their max is known to the bin."""
        meter = LatencyMeter()
        meter.counts = self.counts - earlier.counts
        nonzero = np.flatnonzero(meter.counts)
        if len(nonzero):
            meter.max = min((nonzero[-1] + 1) * self.BIN_S, self.max)
        return meter

    def summary_ms(self) -> dict[str, float | None]:
        """``{"p50", "p95", "max"}`` in milliseconds (None before the first frame)."""
        p50, p95 = self.percentile(50), self.percentile(95)
        return {"p50": _ms(p50), "p95": _ms(p95), "max": _ms(self.max if self.count else None)}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class PipelineStats:
    frames: int = 0
    batches: int = 0
    #: Frames discarded by ``DropPolicy.DROP_OLDEST`` (always 0 under ``BLOCK``).
    dropped: int = 0
    seconds: float = 0.0
    #: Received-to-encoded time of each frame whose batch carries ``arrival`` (live sources).
    latency: LatencyMeter = field(default_factory=LatencyMeter)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _Stopped(Exception):
    """Raised inside a stage when another stage failed, so it leaves quietly."""


_END = object()  # marks the end of a queue's items
_SIGNAL_CHECK_S = 0.01  # how often the main thread wakes while it waits for the stages


class _Channel:
    """A bounded queue between two stages that gives up as soon as the pipeline aborts."""

    _POLL_S = 0.1  # how soon a waiting stage notices an abort

    def __init__(self, depth: int, policy: DropPolicy, abort: threading.Event,
                 max_age: float | None = None) -> None:
        self._queue: queue.Queue = queue.Queue(depth)
        self._policy = policy
        self._abort = abort
        self._max_age = max_age if policy is DropPolicy.DROP_OLDEST else None
        # One counter per side: the producer drops when full, the consumer when too old.
        self._dropped_full = 0
        self._dropped_late = 0

    @property
    def dropped(self) -> int:
        return self._dropped_full + self._dropped_late

    def put(self, item: object) -> None:
        if self._policy is DropPolicy.DROP_OLDEST and item is not _END:
            self._put_dropping_oldest(item)
            return
        while not self._abort.is_set():
            try:
                self._queue.put(item, timeout=self._POLL_S)
                return
            except queue.Full:
                pass
        raise _Stopped

    def _put_dropping_oldest(self, item: object) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._dropped_full += len(self._queue.get_nowait())
                except queue.Empty:  # the consumer just made room
                    pass

    def __iter__(self) -> Iterator:
        while True:
            try:
                item = self._queue.get(timeout=self._POLL_S)
            except queue.Empty:
                if self._abort.is_set():
                    raise _Stopped from None
                continue
            if item is _END:
                return
            if self._too_old(item):
                self._dropped_late += len(item)
                continue
            yield item

    def _too_old(self, item: object) -> bool:
        arrival = getattr(item, "arrival", None)
        return bool(self._max_age is not None and arrival
                    and time.monotonic() - arrival[0] > self._max_age)


class Pipeline:
    """Runs source -> transform -> sink once; ``run()`` returns when the sink has every batch.

    Each stage runs in a thread of its own (decode, each of ``model_stages(transform)``,
    encode), joined by bounded queues; the calling thread only waits for them, so Ctrl-C
    reaches it at once.

    On any failure in any stage (or Ctrl-C), all stages stop and ``run()`` raises the first
    error; finishing or discarding the sink's output is the caller's business.

    ``max_age`` (seconds, ``DROP_OLDEST`` only): drop batches that waited longer than this for
    the model. ``on_abort`` is called once when a stage fails: a source that can wait a long
    time for input (a live stream reconnecting) needs it to stop waiting, so that ``run()``
    can return.
    """

    def __init__(self, source: Source, transform: Transform, sink: Sink, *,
                 batch_size: int = 4, depth: int = 2, policy: DropPolicy = DropPolicy.BLOCK,
                 on_batch: Callable[[PipelineStats], None] | None = None,
                 max_age: float | None = None,
                 on_abort: Callable[[], None] | None = None) -> None:
        self.source, self.transform, self.sink = source, transform, sink
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.on_abort = on_abort
        self.stats = PipelineStats()
        self._abort = threading.Event()
        self._error: BaseException | None = None
        self._stages = model_stages(transform)
        # One queue into each model stage, one into the sink; only the model's first input
        # can be too old (later ones already cost model time). Between two model stages one
        # batch is enough for them to overlap, and theirs are the largest (float frames, four
        # times the bytes of uint8 ones): they hold one.
        last = len(self._stages)
        self._queues = [_Channel(depth if i in (0, last) else 1, policy, self._abort,
                                 max_age if i == 0 else None)
                        for i in range(last + 1)]

    def run(self) -> PipelineStats:
        reset_stream(self.transform)  # one run is one stream: no history from an earlier one
        workers = [("decode", self._decode),
                   *((f"model:{getattr(fn, '__name__', k)}", functools.partial(self._model, k))
                     for k, fn in enumerate(self._stages)),
                   ("encode", self._encode)]
        done = [threading.Event() for _ in workers]
        threads = [threading.Thread(target=self._guarded, args=(work, finished), name=name,
                                    daemon=True)
                   for (name, work), finished in zip(workers, done, strict=True)]
        start = time.perf_counter()
        try:
            # Blocked while they start: the stage threads never take a process signal (see
            # signals.py), and no handler can raise between two starts, which would leave a
            # thread starting that _wait does not know to wait for.
            with signals.blocked():
                for thread in threads:
                    thread.start()
        except BaseException as exc:  # the handler of a signal held back meanwhile raised
            self._fail(exc)
        self._wait(threads, done)
        self.stats.seconds = time.perf_counter() - start
        self.stats.dropped = self.dropped
        if self._error is not None:
            raise self._error
        return self.stats

    @property
    def dropped(self) -> int:
        """Frames dropped so far (``DROP_OLDEST``): a queue was full, or they waited longer
        than ``max_age``."""
        return sum(q.dropped for q in self._queues)

    def _guarded(self, stage: Callable[[], None], done: threading.Event) -> None:
        """Run a stage; on failure remember the first error and stop the others."""
        try:
            stage()
        except _Stopped:
            pass
        except BaseException as exc:  # Ctrl-C included: it must stop the threads too
            self._fail(exc)
        finally:
            done.set()

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
            if self.on_abort is not None:
                self.on_abort()
        self._abort.set()

    def _wait(self, threads: list[threading.Thread], done: list[threading.Event]) -> None:
        """Wait for the stages even through Ctrl-C (which stops them): the sink may only be
        closed once no thread writes to it any more.

        A signal handler may raise here at any moment (Ctrl-C, the worker's HandBack), so the
        wait takes no lock: it sleeps in short slices and reads each stage's "done" flag.
        ``Event.wait`` would take the event's lock, and an exception raised just after that
        lock is taken (``with`` not yet entered) leaves it held: the next wait deadlocks and
        the job never ends. ``Thread.join`` is no better (bpo-45274: one interrupted in
        Python 3.11 may mark a running thread as ended, and the sink would be closed under
        it). The short slices also let a handler run soon: Python runs one only when the main
        thread runs bytecode again.
        """
        started = [(thread, finished) for thread, finished in zip(threads, done, strict=True)
                   if thread.ident is not None]
        while True:
            try:
                while not all(finished.is_set() for _, finished in started):
                    time.sleep(_SIGNAL_CHECK_S)
                break
            except BaseException as exc:
                self._fail(exc)
        for thread, _ in started:  # their work is done; they only have to return
            thread.join()

    def _decode(self) -> None:
        for batch in self.source.batches(self.batch_size):
            self._queues[0].put(batch)
            if self._abort.is_set():
                raise _Stopped
        self._queues[0].put(_END)

    def _model(self, k: int) -> None:
        stage, inbox, outbox = self._stages[k], self._queues[k], self._queues[k + 1]
        for batch in inbox:
            if len(batch):
                batch = replace(batch, frames=stage(batch.frames))
            outbox.put(batch)
        outbox.put(_END)

    def _encode(self) -> None:
        for batch in self._queues[-1]:
            self.sink.write(batch)
            if batch.arrival:
                now = time.monotonic()
                for arrival in batch.arrival:
                    self.stats.latency.add(now - arrival)
            self.stats.frames += len(batch)
            self.stats.batches += 1
            if self.on_batch is not None:
                self.on_batch(self.stats)


@dataclass
class CleanReport:
    """What a finished ``clean_file`` did; the CLI prints it (``--json``)."""

    output: Path
    frames: int
    seconds: float
    #: Input packets the decoder rejected: those frames are missing from the output.
    lost: int
    #: Frames the decoder flagged as damaged but returned: they are in the output.
    corrupt: int

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def clean_file(input_path: Path, output: Path, transform: Transform, *,
               settings: EncodeSettings | None = None, batch_size: int = 4,
               on_progress: Callable[[int, int | None], None] | None = None) -> CleanReport:
    """Demoiré a media file into ``output``; all or nothing (see ``FileSink``).

    ``on_progress(frames_done, frames_expected)`` is called once before the first frame and
    after every batch; ``frames_expected`` is None when the input does not say.
    """
    input_path, output = Path(input_path), Path(output)
    check_output_path(output, input_path)
    settings = settings or EncodeSettings()
    with FileSource(input_path) as source, \
            FileSink(output, source.info, source.side_streams, settings,
                     container_tags=source.container.metadata) as sink:
        total = source.info.frames
        if on_progress is not None:
            on_progress(0, total)

        def report_batch(stats: PipelineStats) -> None:
            if on_progress is not None:
                on_progress(stats.frames, total)

        start = time.perf_counter()
        stats = Pipeline(source, transform, sink, batch_size=batch_size,
                         on_batch=report_batch).run()
        sink.finish()
        seconds = time.perf_counter() - start
    if source.lost:
        log.warning("%d damaged video packet(s) could not be decoded: %d frame(s) are missing "
                    "from the output", source.lost, source.lost)
    return CleanReport(output, stats.frames, seconds, source.lost, source.corrupt)


def clean_image(input_path: Path, output: Path, transform: Transform) -> CleanReport:
    """Demoiré one still photo into ``output`` (the format follows its suffix); atomic."""
    input_path, output = Path(input_path), Path(output)
    check_output_path(output, input_path)
    start = time.perf_counter()
    rgb = read_image(input_path)
    write_image(transform(rgb[None])[0], output)
    return CleanReport(output, 1, time.perf_counter() - start, lost=0, corrupt=0)
