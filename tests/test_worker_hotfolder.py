"""The hot folder: real ``streamdemoire worker --watch`` processes on a real folder.

Clips are tiny (64x48, a few frames) except the "long" one, which only has to last long
enough (a few seconds on one thread) to be killed or stopped in the middle.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import Media
from workers import (
    Process,
    frame_count,
    free_port,
    hidden_leftovers,
    start_worker,
    wait_for,
)

from streamdemoire.worker.hotfolder import HotFolder

LONG_FRAMES = 300  # about 3 s through an identity network: long enough to stop mid-job


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Source clips, made once; tests copy them into an inbox."""
    media = Media(tmp_path_factory.mktemp("clips"))
    bad = media.folder / "bad.mp4"
    bad.write_bytes(b"this is not a video\n" * 50)
    return {"small": media.video("small.mp4"),
            "long": media.video("long.mp4", size=(160, 120),
                                pts=list(range(0, 40 * LONG_FRAMES, 40))),
            "bad": bad}


def drop(source: Path, folder: Path, name: str) -> Path:
    """Put a copy of ``source`` into folder/inbox/name whole, as a mover that renames would."""
    inbox = folder / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    tmp = inbox / f".{name}.copying"
    tmp.write_bytes(source.read_bytes())
    os.replace(tmp, inbox / name)
    return inbox / name


def watcher(folder: Path, log: Path, checkpoint: Path, *extra: str) -> Process:
    worker = start_worker(log, "--watch", folder, "--checkpoint", checkpoint,
                          "--settle", "0.3", *extra)
    wait_for(lambda: "watching" in worker.log or worker.popen.poll() is not None,
             "the worker to start", timeout=120)
    assert worker.popen.poll() is None, worker.log
    return worker


def mid_job(folder: Path, name: str) -> bool:
    """True once the worker is encoding ``name`` (its staging folder holds a partial file)."""
    staging = folder / "done" / f".streamdemoire-hotfolder-{name}"
    return staging.is_dir() and any(staging.iterdir())


def test_only_whole_files_are_taken(tmp_path: Path) -> None:
    folder = HotFolder(tmp_path, settle=0.3)
    growing = folder.inbox / "growing.mp4"
    growing.write_bytes(b"x" * 10)
    marked = folder.inbox / "marked.mp4"
    marked.write_bytes(b"x")
    (folder.inbox / "marked.mp4.ready").touch()
    for skipped in (".hidden.mp4", "upload.mp4.part", "upload.tmp"):
        (folder.inbox / skipped).write_bytes(b"x")

    assert [p.name for p in folder.ready_inputs()] == ["marked.mp4"]  # its marker says so
    time.sleep(0.2)
    with open(growing, "ab") as out:  # still being copied in
        out.write(b"x" * 10)
    time.sleep(0.2)
    assert [p.name for p in folder.ready_inputs()] == ["marked.mp4"]
    time.sleep(0.4)
    assert sorted(p.name for p in folder.ready_inputs()) == ["growing.mp4", "marked.mp4"]

    claim = folder.claim()
    assert claim is not None and claim.path.parent == folder.processing
    assert not (folder.inbox / f"{claim.name}.ready").exists()
    assert HotFolder(tmp_path, settle=0.3)._take_orphan() is None  # locked: not an orphan
    claim.release()
    assert HotFolder(tmp_path, settle=0.3)._take_orphan() is not None  # its worker is gone


def test_two_workers_share_a_folder(tmp_path: Path, clips: dict[str, Path],
                                    identity_checkpoint: Path) -> None:
    folder = tmp_path / "hot"
    port = free_port()
    workers = [start_worker(tmp_path / f"w{i}.log", "--watch", folder, "--checkpoint",
                            identity_checkpoint, "--settle", "0.3",
                            *(["--metrics-port", str(port)] if i == 1 else []))
               for i in (1, 2)]
    try:
        for worker in workers:
            wait_for(lambda w=worker: "watching" in w.log, "the workers to start", timeout=120)
        names = [f"clip{i}.mp4" for i in range(6)]
        for name in names:
            drop(clips["small"], folder, name)
        drop(clips["bad"], folder, "bad.mp4")

        wait_for(lambda: len(list((folder / "done").glob("*.mp4"))) == len(names)
                 and (folder / "failed" / "bad.mp4.reason.txt").exists(),
                 "every file to be done or failed", timeout=120)
        health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                  timeout=10))

        def counted_every_frame() -> str | None:
            """The metrics, once they count the frames of every file worker 1 took (a file
            reaches done/ a moment before its frames are counted)."""
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                          timeout=10).read().decode()
            took = workers[0].log.count("took clip")
            return text if f"streamdemoire_frames_total {6.0 * took}" in text else None

        metrics = wait_for(counted_every_frame, "the metrics to count every frame", timeout=30)
    finally:
        codes = [worker.stop() for worker in workers]
    logs = "".join(worker.log for worker in workers)

    assert codes == [0, 0], logs
    for name in names:
        assert logs.count(f"took {name}\n") == 1, logs  # each file by one worker, once
        assert frame_count(folder / "done" / name) == 6
    assert sorted(os.listdir(folder / "failed")) == ["bad.mp4", "bad.mp4.reason.txt"]
    reason = (folder / "failed" / "bad.mp4.reason.txt").read_text()
    assert "not a readable media file" in reason and reason.count("\n") == 1
    assert not os.listdir(folder / "inbox") and not os.listdir(folder / "processing")
    assert hidden_leftovers(folder / "done") == []
    assert "Traceback" not in logs
    assert health["ok"] and health["mode"] == "watch"
    took = workers[0].log.count("took clip")
    assert f"streamdemoire_frames_total {6.0 * took}" in metrics


def test_a_killed_workers_file_is_taken_up_on_start(tmp_path: Path, clips: dict[str, Path],
                                                    identity_checkpoint: Path) -> None:
    folder = tmp_path / "hot"
    first = watcher(folder, tmp_path / "first.log", identity_checkpoint)
    try:
        drop(clips["long"], folder, "long.mp4")
        wait_for(lambda: mid_job(folder, "long.mp4"), "the job to start", timeout=60,
                 every=0.02)
    finally:
        first.kill()  # SIGKILL, worker and all: no chance to clean up
    assert (folder / "processing" / "long.mp4").exists()
    assert not (folder / "done" / "long.mp4").exists()

    second = watcher(folder, tmp_path / "second.log", identity_checkpoint)
    try:
        wait_for(lambda: (folder / "done" / "long.mp4").exists(), "the recovered job",
                 timeout=120)
    finally:
        assert second.stop() == 0, second.log

    assert "recovered (left in processing/ by a stopped worker) long.mp4" in second.log
    assert frame_count(folder / "done" / "long.mp4") == LONG_FRAMES
    assert not os.listdir(folder / "processing")
    assert hidden_leftovers(folder / "done") == []  # the killed run's partial file is gone


def test_sigterm_hands_the_job_back(tmp_path: Path, clips: dict[str, Path],
                                    identity_checkpoint: Path) -> None:
    folder = tmp_path / "hot"
    worker = watcher(folder, tmp_path / "worker.log", identity_checkpoint, "--grace", "0.2")
    drop(clips["long"], folder, "long.mp4")
    wait_for(lambda: mid_job(folder, "long.mp4"), "the job to start", timeout=60, every=0.02)
    worker.signal_group(signal.SIGTERM)
    assert worker.popen.wait(30) == 0, worker.log

    assert "handed back long.mp4" in worker.log
    assert os.listdir(folder / "inbox") == ["long.mp4"]  # ready for the next worker
    assert os.listdir(folder / "done") == []  # nothing partial
    assert not os.listdir(folder / "processing")
