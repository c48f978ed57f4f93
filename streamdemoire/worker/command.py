"""The ``worker``, ``submit`` and ``status`` commands.

Celery and prometheus-client are imported inside the commands, not here: ``cli`` imports this
module for every command, and both are the optional ``worker`` extra.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import UserError
from ..io import ENCODERS
from ..options import model_options, sharpen_option, temporal_options
from .jobs import (
    DEFAULT_QUEUE,
    DEFAULT_VISIBILITY_TIMEOUT,
    TASK_NAME,
    EngineSpec,
    JobOptions,
    NullMeter,
)
from .streams import StreamSupervisor, load_streams

log = logging.getLogger("streamdemoire.worker")

_BROKER_SCHEMES = ("redis://", "rediss://", "redis+socket://", "unix://")

broker_option = click.option("--broker", metavar="URL", envvar="STREAMDEMOIRE_BROKER",
                             show_envvar=True,
                             help="Redis URL, redis://HOST:PORT/DB (broker and result store).")
queue_option = click.option("--queue", default=DEFAULT_QUEUE, show_default=True,
                            help="Celery queue: e.g. one per kind of machine.")


def _encode_options(command: Callable) -> Callable:
    """--codec, --crf, --preset, --batch, --sharpen and the temporal options: as ``clean``
    takes them."""
    command = temporal_options(command)
    command = sharpen_option(command)
    for option in reversed([
        click.option("--codec", type=click.Choice(list(ENCODERS)), default="libx264",
                     show_default=True, help="Video encoder."),
        click.option("--crf", type=click.IntRange(0, 51), help="Quality, lower is better."),
        click.option("--preset", help="Encoder speed preset."),
        click.option("--batch", type=click.IntRange(1, 256), default=4, show_default=True,
                     help="Frames per model call."),
    ]):
        command = option(command)
    return command


@click.command()
@click.option("--watch", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Hot folder: take files from DIR/inbox, write DIR/done or DIR/failed.")
@broker_option
@click.option("--streams", "streams_file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="streams.toml: live streams to keep running.")
@click.option("--metrics-port", type=click.IntRange(0, 65535),
              help="Serve /metrics and /healthz on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address for --metrics-port (0.0.0.0: every interface).")
@model_options
@click.option("--concurrency", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Jobs at once, each in its own process (--broker on the CPU).")
@click.option("--threads", type=click.IntRange(1, 1024),
              help="CPU threads per job [default: all cores / --concurrency].")
@_encode_options
@click.option("--settle", type=click.FloatRange(0), default=2.0, show_default=True,
              help="Seconds an inbox file's size must stay put before it is taken "
                   "(or drop NAME.ready beside it).")
@click.option("--grace", type=click.FloatRange(0), default=30.0, show_default=True,
              help="On SIGTERM, seconds a running job gets to finish before it is handed back.")
@queue_option
@click.option("--visibility-timeout", type=click.FloatRange(1), default=DEFAULT_VISIBILITY_TIMEOUT,
              show_default=True, help="Seconds before a job whose worker vanished is delivered "
                                      "again; must exceed the longest job.")
@click.option("--name", help="Celery node name [default: streamdemoire-PID@HOST].")
def worker(watch: Path | None, broker: str | None, streams_file: Path | None,
           metrics_port: int | None, metrics_host: str, backend: str, device: str,
           checkpoint: Path | None, engine_path: Path | None, concurrency: int,
           threads: int | None, codec: str, crf: int | None, preset: str | None, batch: int,
           sharpen: float, temporal: bool, temporal_strength: float, settle: float,
           grace: float, queue: str,
           visibility_timeout: float, name: str | None) -> None:
    """Run unattended: a hot folder (--watch), a Celery worker (--broker), live streams
    (--streams), or streams beside either.

    Stops on SIGTERM: takes no new job, gives the running one --grace seconds to finish and
    then hands it back (to the inbox, or to the queue), never leaving a partial output.
    """
    from ..cli import one_line_errors

    with one_line_errors():
        if watch is not None and broker is not None:
            raise UserError("choose --watch or --broker, not both (run two workers)")
        if watch is None and broker is None and streams_file is None:
            raise UserError("nothing to do: give --watch DIR, --broker URL or --streams FILE")
        if broker is not None:
            _check_broker(broker)
        if watch is not None and concurrency > 1:
            raise UserError("--concurrency is for --broker; for a hot folder start several "
                            "workers on the same DIR (they share it safely)")
        if device.startswith("cuda") and concurrency > 1:
            raise UserError("one GPU job per worker: start a worker per GPU with "
                            "--device cuda:N instead of --concurrency")
        for given, what in ((checkpoint, "checkpoint"), (engine_path, "engine")):
            if given is not None and not given.is_file():
                raise UserError(f"{what} not found: {given}")
        streams = load_streams(streams_file) if streams_file else []
        _require_extra(celery=broker is not None, metrics=metrics_port is not None)
        _setup_logging()
        if broker is not None and metrics_port is not None:
            # Pool processes write metrics to files this process sums up (see metrics).
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="streamdemoire-")
            atexit.register(_remove_in, os.getpid(), os.environ["PROMETHEUS_MULTIPROC_DIR"])
        spec = EngineSpec(backend, device, str(checkpoint) if checkpoint else None,
                          str(engine_path) if engine_path else None,
                          threads or max(1, (os.cpu_count() or 1) // concurrency))
        run = _Run(metrics_port is not None)
        if metrics_port is not None:  # first: a port in use fails before anything starts
            from .metrics import serve

            run.server = serve(metrics_host, metrics_port, run.health)
        try:
            run.start_streams(streams)
            if watch is not None:
                options = JobOptions(codec, crf, preset, batch, temporal, temporal_strength,
                                     sharpen)
                run.watch(watch, spec, options, settle, grace)
            elif broker is not None:
                run.celery(broker, spec, concurrency=concurrency, queue=queue, grace=grace,
                           visibility_timeout=visibility_timeout, name=name)
            else:
                run.streams_only()
        finally:
            run.stop_streams(grace)


class _Run:
    """What one ``worker`` process runs, and the /healthz view of it."""

    def __init__(self, metrics: bool) -> None:
        self.metrics = metrics
        self.server: Any = None
        self.supervisors: list[StreamSupervisor] = []
        self.current: Any = None  # the HotFolderWorker or Celery WorkController
        self.mode = "streams"
        self.stopping = False

    def health(self) -> dict:
        state: dict = {"ok": not self.stopping, "mode": self.mode, "pid": os.getpid()}
        if self.mode == "watch" and self.current is not None:
            state.update(self.current.health())
        elif self.mode == "broker":
            from celery.worker import state as celery_state

            state["jobs"] = sorted(r.id for r in celery_state.active_requests)
        if self.supervisors:
            state["streams"] = [s.state() for s in self.supervisors]
        return state

    def start_streams(self, streams: list) -> None:
        on_change = _stream_metrics if self.metrics else None
        for stream in streams:
            supervisor = StreamSupervisor(stream.name, stream.command(), on_change=on_change)
            supervisor.start()
            self.supervisors.append(supervisor)

    def stop_streams(self, grace: float) -> None:
        self.stopping = True
        for supervisor in self.supervisors:
            supervisor.stop(grace)

    def watch(self, folder: Path, spec: EngineSpec, options: JobOptions, settle: float,
              grace: float) -> None:
        from .hotfolder import HotFolder, HotFolderWorker
        from .jobs import demoirer_for

        self.mode = "watch"
        hot = HotFolder(folder, settle)  # makes its folders: a bad path fails before the model
        demoirer = demoirer_for(spec)  # here, so a bad checkpoint or device fails at once
        meter = _job_meter if self.metrics else NullMeter
        self.current = HotFolderWorker(hot, demoirer, options, grace=grace, new_meter=meter)
        self.current.run()
        self.stopping = True

    def celery(self, broker: str, spec: EngineSpec, *, concurrency: int, queue: str,
               grace: float, visibility_timeout: float, name: str | None) -> None:
        from celery import signals

        from .celery_app import configure_worker, make_app

        self.mode = "broker"
        app = make_app(broker, queue=queue, visibility_timeout=visibility_timeout)
        configure_worker(app, spec, metrics=self.metrics, grace=grace)
        signals.worker_shutting_down.connect(self._on_shutdown, weak=False)
        controller = app.Worker(hostname=name or f"streamdemoire-{os.getpid()}@%h",
                                concurrency=concurrency, loglevel="INFO", queues=[queue],
                                without_mingle=True, without_gossip=True, quiet=True,
                                pool_cls="prefork")
        self.current = controller
        controller.start()
        if controller.exitcode:
            raise SystemExit(controller.exitcode)

    def _on_shutdown(self, **_: object) -> None:
        self.stopping = True

    def streams_only(self) -> None:
        """Wait for SIGTERM or Ctrl-C while the supervisors work."""
        self.mode = "streams"
        stop = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.append(True))
        while not stop:
            time.sleep(0.2)
        log.info("stopping streams")


def _remove_in(pid: int, folder: str) -> None:
    """Remove ``folder`` at exit, in the process that made it only (not in forked ones)."""
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


def _job_meter() -> Any:
    from .metrics import JobMeter

    return JobMeter()


def _stream_metrics(supervisor: StreamSupervisor) -> None:
    from .metrics import STREAM_RESTARTS, STREAM_UP

    STREAM_UP.labels(supervisor.name).set(1 if supervisor.status == "running" else 0)
    if supervisor.status == "backoff":
        STREAM_RESTARTS.labels(supervisor.name).inc()


@click.command()
@broker_option
@queue_option
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("output", type=click.Path(path_type=Path))
@_encode_options
def submit(broker: str | None, queue: str, input_path: Path, output: Path, codec: str,
           crf: int | None, preset: str | None, batch: int, sharpen: float, temporal: bool,
           temporal_strength: float) -> None:
    """Queue a job: clean INPUT into OUTPUT on a worker; prints the job id.

    INPUT and OUTPUT must be paths the workers can reach (shared storage); they are made
    absolute here. Follow the job with ``streamdemoire status``.
    """
    from ..cli import one_line_errors

    with one_line_errors():
        app = _client(broker, queue)
        job_id = str(uuid.uuid4())
        options = JobOptions(codec, crf, preset, batch, temporal, temporal_strength, sharpen)
        paths = {"input": str(input_path.absolute()), "output": str(output.absolute())}
        with _broker_errors(broker):
            # QUEUED first, so status can tell "waiting" from "no such job".
            app.backend.store_result(job_id, paths, "QUEUED")
            app.send_task(TASK_NAME, args=[paths["input"], paths["output"],
                                                       options.to_dict()],
                          task_id=job_id, queue=queue,
                          retry_policy={"max_retries": 2, "interval_start": 0.5,
                                        "interval_step": 1})
    click.echo(job_id)


@click.command()
@broker_option
@click.argument("job_id", metavar="ID")
@click.option("--wait", is_flag=True, help="Wait until the job ends; exit 1 if it failed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of text.")
def status(broker: str | None, job_id: str, wait: bool, as_json: bool) -> None:
    """Show a job's state and progress: QUEUED, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE."""
    from ..cli import one_line_errors

    with one_line_errors():
        app = _client(broker, DEFAULT_QUEUE)
        with _broker_errors(broker):
            info = _job_state(app, job_id)
            while wait and info["state"] not in ("SUCCESS", "FAILURE"):
                time.sleep(0.5)
                info = _job_state(app, job_id)
        if info["state"] == "PENDING":
            raise UserError(f"no job {job_id} on {broker} (or its record expired)")
    click.echo(json.dumps(info) if as_json else describe(info))
    if wait and info["state"] == "FAILURE":
        raise SystemExit(1)


def _job_state(app: Any, job_id: str) -> dict:
    result = app.AsyncResult(job_id)
    state, payload = result.state, result.info
    info: dict = {"id": job_id, "state": state}
    if isinstance(payload, BaseException):
        info["reason"] = str(payload)
    elif isinstance(payload, dict):
        info.update(payload)
    return info


def describe(info: dict) -> str:
    """One line for a job state, e.g. ``ID PROGRESS 40/120 frames (33%) on NODE``."""
    head = f"{info['id']} {info['state']}"
    state = info["state"]
    if state == "PROGRESS":
        total = info.get("total")
        done = info.get("frames", 0)
        share = f"/{total} frames ({100 * done / total:.0f}%)" if total else " frames"
        return f"{head} {done}{share} on {info.get('worker')}"
    if state == "SUCCESS":
        return (f"{head}: wrote {info.get('output')}: {info.get('frames')} frames in "
                f"{info.get('seconds')} s ({info.get('fps')} fps) on {info.get('worker')}")
    if state in ("FAILURE", "RETRY"):
        return f"{head}: {info.get('reason')}"
    if state == "QUEUED":
        return f"{head}: {info.get('input')} -> {info.get('output')}"
    return head


def _client(broker: str | None, queue: str) -> Any:
    if not broker:
        raise UserError("--broker URL is required (redis://HOST:PORT/DB)")
    _check_broker(broker)
    _require_extra(celery=True, metrics=False)
    from .celery_app import make_app

    return make_app(broker, queue=queue)


def _check_broker(url: str) -> None:
    if not url.startswith(_BROKER_SCHEMES):
        raise UserError(f"--broker must be a Redis URL like redis://HOST:PORT/DB, got {url!r}")


class _broker_errors:  # noqa: N801 (used like a function)
    """Turn "Redis is not there" from kombu or redis-py into one line that says so."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        from kombu.exceptions import OperationalError
        from redis.exceptions import RedisError

        if isinstance(exc, OperationalError | RedisError | ConnectionError):
            raise UserError(f"cannot reach the broker at {self.url}: "
                            f"{' '.join(str(exc).split())}") from None


def _require_extra(*, celery: bool, metrics: bool) -> None:
    needed = []
    if celery:
        needed += ["celery", "redis"]
    if metrics:
        needed.append("prometheus_client")
    import importlib.util

    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"this needs {', '.join(missing)}: pip install 'streamdemoire[worker]'")


def _setup_logging() -> None:
    """Timestamped lines on stderr, for journald or a container log."""
    logging.basicConfig(level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    logging.getLogger("streamdemoire").handlers = []
    logging.getLogger("streamdemoire").propagate = True
