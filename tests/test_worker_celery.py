"""Celery workers on a real redis-server: jobs complete, survive a killed worker, fail once.

Two real ``streamdemoire worker --broker`` processes (one pool process each) serve the whole
module; the test that SIGKILLs one of them runs last. The visibility timeout is 15 s here
(6 h by default), so a job whose worker died is delivered again within seconds; every job
in this module lasts well under that.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Media
from workers import (
    Process,
    frame_count,
    free_port,
    hidden_leftovers,
    redis_server,
    start_worker,
    wait_for,
)

pytest.importorskip("celery", reason="needs the worker extra: pip install -e '.[worker]'")

from streamdemoire.cli import main  # noqa: E402
from streamdemoire.worker.celery_app import make_app  # noqa: E402

VISIBILITY_TIMEOUT = 15
#: The workers' grace period after SIGTERM (seconds), far shorter than what is left of the long
#: job when it is stopped part way through.
GRACE = 0.25
#: About 2 s through the identity network on a fast host (139 frames a second here): a job
#: stopped part way through still has several grace periods to go. With 200 frames and a
#: grace of 1 s such a host finished the job within its grace, and nothing went back.
LONG_FRAMES = 300


class Cluster:
    def __init__(self, url: str, workers: dict[str, Process], metrics_port: int) -> None:
        self.url, self.workers, self.metrics_port = url, workers, metrics_port
        self.app = make_app(url)

    def submit(self, input_path: Path, output: Path, *options: str) -> str:
        result = CliRunner().invoke(main, ["submit", "--broker", self.url, str(input_path),
                                           str(output), *options])
        assert result.exit_code == 0, result.output
        return result.output.strip()

    def status(self, job_id: str, *options: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["status", "--broker", self.url, job_id, *options])
        return result.exit_code, result.output.strip()

    def result(self, job_id: str):
        return self.app.AsyncResult(job_id)

    def wait(self, job_id: str, timeout: float = 120.0):
        wait_for(lambda: self.result(job_id).state in ("SUCCESS", "FAILURE"),
                 f"job {job_id} to end", timeout=timeout, every=0.2)
        return self.result(job_id)

    def logs(self) -> str:
        return "".join(worker.log for worker in self.workers.values())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            identity_checkpoint: Path) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    server, url = redis_server(folder)
    metrics_port = free_port()
    workers = {}
    try:
        for name in ("alpha", "beta"):
            extra = ["--metrics-port", str(metrics_port)] if name == "alpha" else []
            workers[f"{name}@test"] = start_worker(
                folder / f"{name}.log", "--broker", url, "--checkpoint", identity_checkpoint,
                "--visibility-timeout", str(VISIBILITY_TIMEOUT), "--name", f"{name}@test",
                "--grace", str(GRACE), *extra)
        for worker in workers.values():
            wait_for(lambda w=worker: " ready." in w.log or w.popen.poll() is not None,
                     "the workers to connect", timeout=120)
            assert worker.popen.poll() is None, worker.log
        yield Cluster(url, workers, metrics_port)
    finally:
        for worker in workers.values():
            worker.stop()
        server.stop()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    media = Media(tmp_path_factory.mktemp("clips"))
    corrupt = media.folder / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)  # a header, then junk
    return {"short": media.video("short.mp4", pts=list(range(0, 40 * 24, 40))),
            "long": media.video("long.mp4", size=(160, 120),
                                pts=list(range(0, 40 * LONG_FRAMES, 40))),
            "corrupt": corrupt}


def test_three_jobs_across_two_workers(cluster: Cluster, clips: dict[str, Path],
                                       tmp_path: Path) -> None:
    ids = [cluster.submit(clips["short"], tmp_path / f"out{i}.mp4", "--batch", "2")
           for i in range(3)]
    results = [cluster.wait(job_id) for job_id in ids]

    assert [r.state for r in results] == ["SUCCESS"] * 3, cluster.logs()
    assert {r.result["worker"] for r in results} == set(cluster.workers)  # both took some
    for i in range(3):
        assert frame_count(tmp_path / f"out{i}.mp4") == 24
    assert hidden_leftovers(tmp_path) == []
    code, line = cluster.status(ids[0])
    assert code == 0 and line.startswith(f"{ids[0]} SUCCESS: wrote {tmp_path / 'out0.mp4'}")

    metrics = urllib.request.urlopen(
        f"http://127.0.0.1:{cluster.metrics_port}/metrics", timeout=10).read().decode()
    ran_on_alpha = sum(r.result["worker"] == "alpha@test" for r in results)
    assert f'streamdemoire_jobs_total{{state="succeeded"}} {ran_on_alpha:.1f}' in metrics
    assert f"streamdemoire_frames_total {24.0 * ran_on_alpha}" in metrics
    health = json.load(urllib.request.urlopen(
        f"http://127.0.0.1:{cluster.metrics_port}/healthz", timeout=10))
    assert health["ok"] and health["mode"] == "broker"


def test_a_corrupt_input_fails_once_with_its_reason(cluster: Cluster, clips: dict[str, Path],
                                                    tmp_path: Path) -> None:
    job_id = cluster.submit(clips["corrupt"], tmp_path / "out.mp4")
    result = cluster.wait(job_id)

    assert result.state == "FAILURE"
    assert "not a readable media file" in str(result.info)
    assert cluster.logs().count(f"streamdemoire.clean[{job_id}] received") == 1  # no retry
    assert os.listdir(tmp_path) == []
    code, line = cluster.status(job_id, "--wait")
    assert code == 1 and "FAILURE" in line and "not a readable media file" in line


def test_bad_requests_are_one_line_errors(cluster: Cluster, tmp_path: Path) -> None:
    code, line = cluster.status("no-such-job")
    assert code == 1 and line == f"streamdemoire: error: no job no-such-job on {cluster.url} " \
                                  "(or its record expired)"
    result = CliRunner().invoke(main, ["submit", "--broker", "http://x", "a.mp4", "b.mp4"])
    assert result.exit_code == 1 and "must be a Redis URL" in result.output
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = CliRunner().invoke(main, ["submit", "--broker", dead, "a.mp4", "b.mp4"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"streamdemoire: error: cannot reach the broker at {dead}")
    assert "Traceback" not in result.output


def half_done_on(cluster: Cluster, job_id: str) -> str:
    """Wait until the job is partly done; returns the name of the worker running it."""

    def running() -> str | None:
        result = cluster.result(job_id)
        info = result.info if isinstance(result.info, dict) else {}
        if result.state == "PROGRESS" and 0 < info.get("frames", 0) < LONG_FRAMES:
            return info["worker"]
        assert result.state not in ("SUCCESS", "FAILURE"), "the job ended too soon"
        return None

    return wait_for(running, "the job to be half done", timeout=120, every=0.05)


def test_a_job_survives_its_worker_being_killed(cluster: Cluster, clips: dict[str, Path],
                                                tmp_path: Path) -> None:
    output = tmp_path / "long_clean.mp4"
    job_id = cluster.submit(clips["long"], output, "--batch", "1")
    victim = half_done_on(cluster, job_id)
    cluster.workers[victim].signal_group(signal.SIGKILL)  # the worker and its pool process
    cluster.workers[victim].popen.wait(30)
    assert hidden_leftovers(tmp_path), "the killed run should have left its staging folder"

    result = cluster.wait(job_id, timeout=VISIBILITY_TIMEOUT + 120)
    survivor = next(name for name in cluster.workers if name != victim)
    assert result.state == "SUCCESS", cluster.logs()
    assert result.result["worker"] == survivor
    assert os.listdir(tmp_path) == [output.name]  # one output, no partial or temporary file
    assert frame_count(output) == LONG_FRAMES
    assert f"job {job_id} on {victim}" in cluster.workers[victim].log
    assert f"job {job_id} on {survivor}" in cluster.workers[survivor].log


def test_sigterm_hands_a_running_job_back(cluster: Cluster, clips: dict[str, Path],
                                          tmp_path: Path, identity_checkpoint: Path) -> None:
    """After the kill above one worker is left: stopped mid-job, it puts the job back in the
    queue at once (not after the visibility timeout), and a new worker finishes it."""
    from redis import Redis

    (tmp_path / "out").mkdir()
    output = tmp_path / "out" / "long_clean.mp4"
    job_id = cluster.submit(clips["long"], output, "--batch", "1")
    name = half_done_on(cluster, job_id)
    worker = cluster.workers[name]
    os.kill(worker.popen.pid, signal.SIGTERM)  # the main process, as docker stop does
    assert worker.popen.wait(60) == 0, worker.log

    assert f"running jobs get {GRACE:g} s to finish" in worker.log  # not rounded to "0 s"
    assert "Restoring 1 unacknowledged message(s)" in worker.log
    assert Redis.from_url(cluster.url).llen("streamdemoire") == 1  # back in the queue
    assert not output.exists()
    newcomer = start_worker(tmp_path / "gamma.log", "--broker", cluster.url, "--checkpoint",
                            identity_checkpoint, "--name", "gamma@test")
    cluster.workers["gamma@test"] = newcomer
    result = cluster.wait(job_id, timeout=180)
    assert result.state == "SUCCESS" and result.result["worker"] == "gamma@test", newcomer.log
    assert os.listdir(output.parent) == [output.name]  # the stopped run's staging folder gone
    assert frame_count(output) == LONG_FRAMES
