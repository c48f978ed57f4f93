"""Running unattended: a hot folder on one machine, Celery workers on Redis across many.

- ``jobs``: one file job, wherever it came from: cleaned into place (exactly one complete
  output or nothing), failures sorted into "bad input, give up" and "transient, retry".
- ``hotfolder``: DIR/inbox -> processing -> done | failed, claimed by rename, guarded by
  file locks so a crashed worker's file is taken up again and never by two workers at once.
- ``celery_app``: the Celery app and its one task; acks late, redelivered when a worker dies.
- ``streams``: live streams from streams.toml, each a supervised ``streamdemoire live``.
- ``metrics``: Prometheus metrics and the /healthz and /metrics endpoints.
- ``command``: the ``worker``, ``submit`` and ``status`` commands.

Celery and prometheus-client are the optional ``worker`` extra: nothing here imports them
until a command needs them, so ``streamdemoire clean`` works without.
"""
