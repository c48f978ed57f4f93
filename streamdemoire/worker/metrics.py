"""Prometheus metrics, and the small HTTP server behind ``--metrics-port``.

A Celery worker runs its jobs in forked pool processes, so its metrics are kept the way
prometheus-client does it for pre-forking servers: every process writes its values to files
in ``PROMETHEUS_MULTIPROC_DIR`` and the HTTP server sums them up. That variable must be set
before prometheus_client is first imported, which is why ``command`` sets it before importing
this module; without it (the hot folder, one process) the ordinary in-process registry is used.

Endpoints: ``/metrics`` (Prometheus text format) and ``/healthz`` (JSON from the worker's
``health()``; 200 while it takes work, 503 once it is stopping or broken).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from ..errors import UserError
from ..pipeline import CleanReport

log = logging.getLogger("streamdemoire.worker")

FRAMES = Counter("streamdemoire_frames", "Frames cleaned by finished and running jobs.")
JOBS = Counter("streamdemoire_jobs", "Jobs by how they ended: succeeded, failed, retried, "
               "handed_back (worker stopping).", ["state"])
JOBS_ACTIVE = Gauge("streamdemoire_jobs_active", "Jobs running now.",
                    multiprocess_mode="livesum")
JOB_FPS = Gauge("streamdemoire_job_fps", "Frames per second of the last finished job.",
                multiprocess_mode="mostrecent")
JOB_SECONDS = Histogram("streamdemoire_job_seconds", "Wall time of finished jobs.",
                        buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, float("inf")))
FRAME_SECONDS = Histogram(
    "streamdemoire_frame_seconds",
    "Wall time per frame, measured per batch (decode, model and encode overlap).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, float("inf")))
DROPPED = Counter("streamdemoire_dropped_frames",
                  "Frames missing from outputs: input packets that could not be decoded.")
GPU_MEMORY = Gauge("streamdemoire_gpu_memory_bytes", "Peak GPU memory allocated by the model.",
                   ["device"], multiprocess_mode="livemax")
STREAM_UP = Gauge("streamdemoire_stream_up", "1 while a supervised live stream runs.",
                  ["stream"], multiprocess_mode="livemax")
STREAM_RESTARTS = Counter("streamdemoire_stream_restarts",
                          "Times a supervised live stream was restarted.", ["stream"])


class JobMeter:
    """Feeds one job's progress callbacks into the metrics."""

    def __init__(self) -> None:
        self._done = 0
        self._last = time.perf_counter()
        JOBS_ACTIVE.inc()
        self._open = True

    def on_progress(self, done: int, total: int | None) -> None:
        now = time.perf_counter()
        new = done - self._done
        if new > 0:
            FRAMES.inc(new)
            per_frame = (now - self._last) / new
            for _ in range(new):
                FRAME_SECONDS.observe(per_frame)
        self._done, self._last = done, now

    def finish(self, state: str, report: CleanReport | None = None,
               device: str | None = None) -> None:
        """Count the job under ``state``; call once, whatever happened."""
        if not self._open:
            return
        self._open = False
        JOBS_ACTIVE.dec()
        JOBS.labels(state).inc()
        if report is not None:
            JOB_FPS.set(report.fps)
            JOB_SECONDS.observe(report.seconds)
            DROPPED.inc(report.lost)
        if device is not None and device.startswith("cuda"):
            _record_gpu_memory(device)


def _record_gpu_memory(device: str) -> None:
    import torch

    if torch.cuda.is_available():
        GPU_MEMORY.labels(device).set(torch.cuda.max_memory_allocated(device))


def registry() -> CollectorRegistry:
    """What /metrics shows: this process's metrics, or all pool processes' in multiprocess mode."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    from prometheus_client import multiprocess

    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


def mark_process_dead(pid: int) -> None:
    """Drop a finished pool process's live gauges (multiprocess mode only)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def serve(host: str, port: int, health: Callable[[], dict]) -> ThreadingHTTPServer:
    """Start /metrics and /healthz on host:port in a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, CONTENT_TYPE_LATEST, generate_latest(registry()))
            elif path == "/healthz":
                state = health()
                self._reply(200 if state.get("ok") else 503, "application/json",
                            json.dumps(state).encode())
            else:
                self._reply(404, "text/plain", b"not found: try /metrics or /healthz\n")

        def _reply(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # a scrape every few seconds is not news

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise UserError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics, health on /healthz", host, server.server_port)
    return server
