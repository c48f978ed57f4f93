"""The Pipeline itself, with in-memory sources and sinks: order, back-pressure, dropping,
and stopping every stage when one fails."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from fractions import Fraction

import numpy as np
import pytest
import torch

from streamdemoire import api
from streamdemoire.api import Demoirer
from streamdemoire.engine import frames_to_tensor
from streamdemoire.io import Batch, FrameTime
from streamdemoire.pipeline import DropPolicy, Pipeline, model_stages
from streamdemoire.temporal import TemporalSmoother

TB = Fraction(1, 1000)


class CountingSource:
    """Frames whose pixels and pts are their index; one side packet ("p<i>") per frame."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at

    def batches(self, size: int):
        for start in range(0, self.n, size):
            if self.fail_at is not None and start >= self.fail_at:
                raise ValueError("source broke")
            idx = range(start, min(start + size, self.n))
            frames = np.stack([np.full((2, 3, 3), i % 256, np.uint8) for i in idx])
            yield Batch(frames, [FrameTime(i * 40, TB, 40) for i in idx], [f"p{i}" for i in idx])
        yield Batch(np.empty((0, 2, 3, 3), np.uint8), [], ["tail"])


class ListSink:
    def __init__(self, delay: float = 0.0, fail_at: int | None = None) -> None:
        self.batches: list[Batch] = []
        self.delay, self.fail_at = delay, fail_at

    def write(self, batch: Batch) -> None:
        if self.fail_at is not None and len(self.batches) == self.fail_at:
            raise OSError(28, "No space left on device")
        time.sleep(self.delay)
        self.batches.append(batch)

    @property
    def pts(self) -> list[int]:
        return [t.pts for b in self.batches for t in b.times]

    @property
    def passthrough(self) -> list[str]:
        return [p for b in self.batches for p in b.passthrough]


def stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t.name in ("decode", "encode") or t.name.startswith("model:")]


def test_every_frame_once_in_order_through_the_transform():
    sink = ListSink()
    calls = []

    def invert(frames: np.ndarray) -> np.ndarray:
        calls.append(len(frames))
        return 255 - frames

    stats = Pipeline(CountingSource(10), invert, sink, batch_size=4).run()

    assert sink.pts == [i * 40 for i in range(10)]
    assert [b.frames[0, 0, 0, 0] for b in sink.batches if len(b)] == [255, 251, 247]
    assert calls == [4, 4, 2]  # the passthrough-only tail batch skips the model
    assert sink.passthrough == [f"p{i}" for i in range(10)] + ["tail"]
    assert (stats.frames, stats.batches, stats.dropped) == (10, 4, 0)
    assert stats.fps > 0


def test_block_policy_waits_for_a_slow_sink_and_drops_nothing():
    sink = ListSink(delay=0.01)

    stats = Pipeline(CountingSource(40), lambda f: f, sink, batch_size=2, depth=1).run()

    assert sink.pts == [i * 40 for i in range(40)]
    assert stats.dropped == 0


def test_drop_oldest_policy_keeps_up_by_dropping_and_counting():
    sink = ListSink(delay=0.02)

    stats = Pipeline(CountingSource(60), lambda f: f, sink, batch_size=2, depth=1,
                     policy=DropPolicy.DROP_OLDEST).run()

    assert stats.dropped > 0
    assert stats.frames + stats.dropped == 60
    assert sink.pts == sorted(set(sink.pts))  # what is kept stays in order, once each


@pytest.mark.parametrize("source, sink, error", [
    (CountingSource(40, fail_at=8), ListSink(), ValueError),
    (CountingSource(40), ListSink(delay=0.01, fail_at=3), OSError),
])
def test_a_failing_stage_stops_all_and_its_error_comes_out(source, sink, error):
    with pytest.raises(error):
        Pipeline(source, lambda f: f, sink, batch_size=2, depth=1).run()
    assert stage_threads() == []


def test_ctrl_c_in_the_model_stops_the_threads():
    def interrupted(frames: np.ndarray) -> np.ndarray:
        raise KeyboardInterrupt

    sink = ListSink()
    with pytest.raises(KeyboardInterrupt):
        Pipeline(CountingSource(40), interrupted, sink, batch_size=2, depth=1).run()
    assert stage_threads() == []
    assert sink.batches == []


class Signalled(Exception):
    pass


@pytest.mark.parametrize("at_frame", [0, 5])  # while the stages start; while run() waits
def test_a_signal_sent_while_the_stages_work_stops_the_run_promptly(at_frame: int):
    """A worker's grace-period SIGALRM, Ctrl-C: its handler raises in the main thread, soon,
    and every stage thread has ended when ``run()`` raises (none left starting)."""
    def raise_signalled(signum: int, frame: object) -> None:
        raise Signalled

    def signal_from_a_stage(frames: np.ndarray) -> np.ndarray:
        if frames[0, 0, 0, 0] == at_frame:
            os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.05)
        return frames

    previous = signal.signal(signal.SIGUSR1, raise_signalled)
    sink = ListSink()
    start = time.monotonic()
    try:
        with pytest.raises(Signalled):
            Pipeline(CountingSource(200), signal_from_a_stage, sink, batch_size=1,
                     depth=1).run()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert time.monotonic() - start < 5  # the whole run would take 10 s
    assert len(sink.batches) < 100
    assert stage_threads() == []


class RaisingWhileItWaits(Pipeline):
    """A Pipeline whose wait for its stages has an exception raised in it just after the
    ``n``-th call into C returns, as a signal handler's would be (a profile hook that raises
    makes the exception come out there, and then removes itself)."""

    def __init__(self, n: int) -> None:
        super().__init__(CountingSource(100), slowly, ListSink(), batch_size=1, depth=1)
        self.n = n

    def _wait(self, threads, done) -> None:
        returns = 0

        def raise_at_the_nth_return(frame: object, event: str, arg: object) -> None:
            nonlocal returns
            if event == "c_return":
                returns += 1
                if returns == self.n:
                    raise Signalled

        sys.setprofile(raise_at_the_nth_return)
        try:
            super()._wait(threads, done)
        finally:
            sys.setprofile(None)


def slowly(frames: np.ndarray) -> np.ndarray:
    time.sleep(0.002)
    return frames


def test_a_signal_at_any_point_of_the_wait_ends_the_run():
    """Wherever in the main thread's wait a handler raises, the stages stop and ``run()``
    raises it: no lock is left held for the next wait to deadlock on (CI once saw a worker
    hang there after its grace-period SIGALRM)."""
    outcomes: list[str] = []

    def run_each() -> None:
        for n in range(1, 16):  # the wait repeats itself after a few
            try:
                RaisingWhileItWaits(n).run()
                outcomes.append("finished")
            except Signalled:
                outcomes.append("raised")

    runner = threading.Thread(target=run_each, daemon=True)  # a deadlock must not hang pytest
    gc.disable()  # a collection meanwhile runs finalizers, which swallow what is raised in them
    try:
        runner.start()
        runner.join(60)
    finally:
        gc.enable()
    assert not runner.is_alive(), f"run() hung after {len(outcomes)} runs"
    assert outcomes[0] == "raised" and outcomes.count("raised") == 15
    assert stage_threads() == []


def test_the_stage_threads_leave_process_signals_to_the_main_thread():
    masks = []

    def note_the_mask(frames: np.ndarray) -> np.ndarray:
        masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return frames

    Pipeline(CountingSource(2), note_the_mask, ListSink(), batch_size=1).run()
    assert masks and all({signal.SIGINT, signal.SIGTERM, signal.SIGALRM} <= m for m in masks)
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # restored here


def test_progress_callback_sees_every_batch():
    seen = []
    Pipeline(CountingSource(5), lambda f: f, ListSink(), batch_size=2,
             on_batch=lambda s: seen.append(s.frames)).run()
    assert seen == [2, 4, 5, 5]


class MovingSource:
    """A picture panning a few pixels per frame (the smoother's history is in play), in
    batches of ``size``."""

    def __init__(self, n: int, width: int = 160, height: int = 96) -> None:
        rng = np.random.default_rng(0)
        self.canvas = rng.integers(0, 256, (height + 40, width + 40, 3), np.uint8)
        self.canvas[::7] //= 2  # stripes: something for the motion estimate to lock on to
        self.n, self.width, self.height = n, width, height

    def frame(self, i: int) -> np.ndarray:
        return self.canvas[i * 2 % 40:][:self.height, i * 3 % 40:][:, :self.width]

    def batches(self, size: int):
        for start in range(0, self.n, size):
            idx = range(start, min(start + size, self.n))
            yield Batch(np.stack([self.frame(i) for i in idx]),
                        [FrameTime(i * 40, TB, 40) for i in idx])


def test_the_network_in_its_own_thread_gives_the_floats_its_calls_give(monkeypatch):
    """The network in a thread of its own (``Demoirer.stages``) changes nothing: its output is
    bit for bit what calling the Demoirer batch after batch in one thread gives, which is what
    the pipeline did before it split the model stage. Compared in float, before rounding to
    uint8 hides most one-ulp changes: a stage thread that ran torch with another thread
    count, or batches cut differently, would show."""
    monkeypatch.setattr(api, "tensor_to_frames", lambda t: t.permute(0, 2, 3, 1).numpy())
    source, sink = MovingSource(8), ListSink()
    demoirer = Demoirer()  # the shipped model: a real network
    assert len(model_stages(demoirer)) == 2

    Pipeline(source, demoirer, sink, batch_size=3).run()

    alone = Demoirer()
    expected = [alone(batch.frames) for batch in source.batches(3)]
    assert [len(b) for b in sink.batches] == [3, 3, 2]
    for got, want in zip(sink.batches, expected, strict=True):
        assert got.frames.dtype == np.float32
        np.testing.assert_array_equal(got.frames, want)


class RecordingSmoother:
    """The real smoother, keeping a copy of every batch it is given, and of the network's
    inputs beside it."""

    def __init__(self) -> None:
        self.smoother, self.seen, self.inputs = TemporalSmoother(), [], []

    def __call__(self, frames, inputs):
        self.seen.append(frames.clone())
        self.inputs.append(inputs.clone())
        return self.smoother(frames, inputs)

    def reset(self) -> None:
        self.smoother.reset()


def test_the_smoother_in_its_own_thread_sees_what_its_calls_see():
    """With smoothing on, the smoother's thread is given exactly the batches, in the same
    order, that calling the Demoirer batch after batch gives it, and the frames ``clean``
    encodes match. Only up to the smoother's own run-to-run noise: it is not bit-reproducible
    in float even run twice on the same frames in one thread (``torch.linalg.lstsq``, for
    one, gives slightly different solutions for the same input), which flips the odd
    rounding to uint8."""
    source, sink = MovingSource(8), ListSink()
    demoirer, alone = Demoirer(temporal=True), Demoirer(temporal=True)
    demoirer.smoother, alone.smoother = RecordingSmoother(), RecordingSmoother()

    Pipeline(source, demoirer, sink, batch_size=3).run()
    expected = [alone(batch.frames) for batch in source.batches(3)]

    assert [len(b) for b in demoirer.smoother.seen] == [3, 3, 2]
    for got, want in zip(demoirer.smoother.seen, alone.smoother.seen, strict=True):
        assert torch.equal(got, want)
    # and beside each batch, the frames the network was handed, untouched by it
    for got, batch in zip(demoirer.smoother.inputs, source.batches(3), strict=True):
        assert torch.equal(got, frames_to_tensor(batch.frames, torch.device("cpu")))
    for got, want in zip(sink.batches, expected, strict=True):
        diff = np.abs(got.frames.astype(int) - want)
        assert diff.max() <= 1 and np.count_nonzero(diff) <= diff.size // 1000
