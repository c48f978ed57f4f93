"""The Celery side: one task, ``streamdemoire.clean``, and the settings that keep jobs safe.

No job is lost:

- ``task_acks_late``: a job's message is acknowledged when the job ends, not when it starts;
- ``task_reject_on_worker_lost``: a pool process that dies mid-job (a crash in FFmpeg, the
  OOM killer) puts the message back at once instead of marking the job failed;
- a whole worker that dies (SIGKILL, power) never acknowledges: Redis keeps the message in
  its "unacked" set, and after ``visibility_timeout`` any other worker's periodic sweep puts
  it back in the queue. The timeout must exceed the longest job, or a job still running is
  delivered a second time (harmless for the output, see ``jobs``, but wasted work);
- ``worker_prefetch_multiplier=1``: a worker reserves no more jobs than it runs, so jobs
  wait in Redis for whichever worker is free rather than behind a busy one.

Bad input fails at once with its reason; a transient error is retried with exponential
backoff (``jobs.is_transient``). Progress is the task state ``PROGRESS`` with
``{"frames", "total", "worker"}``; a submitted job is ``QUEUED`` until a worker starts it, so
``status`` can tell a waiting job from an unknown id.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

from celery import Celery, Task, signals

from .jobs import (
    DEFAULT_QUEUE,
    DEFAULT_VISIBILITY_TIMEOUT,
    MAX_RETRIES,
    TASK_NAME,
    EngineSpec,
    JobFailed,
    JobOptions,
    NullMeter,
    backoff_seconds,
    clean_into_place,
    demoirer_for,
    is_transient,
    reason,
    report_dict,
)

log = logging.getLogger("streamdemoire.worker")

#: The states of a submitted job before it runs and while it runs.
QUEUED, PROGRESS = "QUEUED", "PROGRESS"
_PROGRESS_EVERY_S = 0.5


def make_app(broker: str, *, queue: str = DEFAULT_QUEUE,
             visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT) -> Celery:
    """The app for workers and clients alike; Redis is both broker and result store."""
    app = Celery("streamdemoire", broker=broker, backend=broker, set_as_current=False)
    # kombu sweeps for messages whose worker vanished every interval x throttle seconds
    # (100 s by default); tie the sweep to the timeout so a short timeout recovers quickly.
    sweep = min(60.0, max(1.0, visibility_timeout / 10))
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": visibility_timeout,
                                  "unacked_restore_interval": sweep,
                                  "unacked_restore_throttle": 1},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        redis_socket_connect_timeout=5,
        task_default_queue=queue,
        task_track_started=True,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_expires=7 * 24 * 3600,
        worker_hijack_root_logger=False,
        # What runs the jobs of this worker (set by the ``worker`` command).
        streamdemoire_engine=EngineSpec(),
        streamdemoire_metrics=False,
    )
    # throws: a failed job is logged as one line with its reason, not as a traceback.
    app.task(bind=True, name=TASK_NAME, throws=(JobFailed,))(clean_task)
    return app


def clean_task(task: Task, input_path: str, output_path: str, options: dict) -> dict:
    """Clean one file; the result is the ``clean --json`` fields plus the worker's name."""
    hostname = task.request.hostname
    log.info("job %s on %s: %s -> %s", task.request.id, hostname, input_path, output_path)
    meter = _new_meter(task.app)
    spec: EngineSpec = task.app.conf.streamdemoire_engine
    progress = _ProgressReporter(task, hostname)
    try:
        job = JobOptions.from_dict(options)
        report = clean_into_place(Path(input_path), Path(output_path), demoirer_for(spec), job,
                                  job_key=task.request.id,
                                  on_progress=lambda done, total: (
                                      meter.on_progress(done, total),
                                      progress(done, total)))
    except Exception as exc:
        retries = task.request.retries
        if is_transient(exc) and retries < MAX_RETRIES:
            meter.finish("retried")
            delay = backoff_seconds(retries)
            log.warning("job %s: %s; retry %d in %.0f s", task.request.id, reason(exc),
                        retries + 1, delay)
            raise task.retry(exc=JobFailed(reason(exc)), countdown=delay,
                             max_retries=MAX_RETRIES) from None
        meter.finish("failed")
        log.warning("job %s failed: %s", task.request.id, reason(exc))
        raise JobFailed(reason(exc)) from None
    meter.finish("succeeded", report, spec.device)
    log.info("job %s done: %d frames in %.1f s", task.request.id, report.frames, report.seconds)
    return {**report_dict(report), "worker": hostname}


class _ProgressReporter:
    """``on_progress`` that writes the ``PROGRESS`` state, at most twice a second (each
    write is a round trip to Redis)."""

    def __init__(self, task: Task, hostname: str) -> None:
        # The id is kept: progress comes from the pipeline's encode thread, where Celery's
        # (thread-local) current request is empty.
        self.task, self.task_id, self.hostname = task, task.request.id, hostname
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if done and total is not None and done < total and now - self._last < _PROGRESS_EVERY_S:
            return
        self._last = now
        meta = {"frames": done, "total": total, "worker": self.hostname}
        self.task.update_state(task_id=self.task_id, state=PROGRESS, meta=meta)


def _new_meter(app: Celery) -> NullMeter:
    if not app.conf.streamdemoire_metrics:
        return NullMeter()
    from .metrics import JobMeter

    return JobMeter()


def configure_worker(app: Celery, spec: EngineSpec, *, metrics: bool, grace: float) -> None:
    """Settings only a worker needs: its model, its metrics, and its SIGTERM grace period.

    Celery's own SIGTERM is a warm shutdown: take no new job, wait for the running ones
    however long they take. Under systemd or Kubernetes that wait is cut short by SIGKILL,
    and the job is only redelivered after the visibility timeout; so after ``grace`` seconds
    the worker turns it into a cold shutdown itself (SIGQUIT), which stops the job and puts
    its message back in the queue at once (acks late: it was never acknowledged).
    """
    app.conf.streamdemoire_engine = spec
    app.conf.streamdemoire_metrics = metrics

    def load_model(**_: object) -> None:
        # In each pool process as it starts, not in its first job: a checkpoint or device
        # problem shows in the log at once, and the first job is not slower than the rest.
        try:
            demoirer_for(spec)
        except Exception as exc:  # each job will fail with the same reason, and say so
            log.error("cannot load the model: %s", reason(exc))

    def forget_process(pid: int, **_: object) -> None:
        if metrics:
            from .metrics import mark_process_dead

            mark_process_dead(pid)

    timers: list[threading.Timer] = []

    def start_grace_timer(how: str = "", **_: object) -> None:
        if how != "Warm" or timers:
            return
        from celery.worker import state

        if state.active_requests:
            log.warning("stopping: running jobs get %g s to finish, then go back to the "
                        "queue", grace)
        timers.append(threading.Timer(grace, os.kill, (os.getpid(), signal.SIGQUIT)))
        timers[0].daemon = True
        timers[0].start()

    signals.worker_process_init.connect(load_model, weak=False)
    signals.worker_process_shutdown.connect(forget_process, weak=False)
    signals.worker_shutting_down.connect(start_grace_timer, weak=False)
