"""The AltScout service: audits as jobs in a SQLite store, run by a fixed pool on one captioner.

* :mod:`service.jobs` - the job store (states, progress, limits, expiry, recovery after a restart);
* :mod:`service.runner` - ``run_job`` (one job through ``pipeline.audit`` to its reports) and the workers;
* :mod:`service.submit` - a request (form or API) to a queued job, with the server's limits;
* :mod:`service.keys` - optional API keys and their per-key limits;
* :mod:`service.api` - the REST API, mounted beside the Gradio app on one FastAPI server.

The web form (``app.py``) and the REST API both call :meth:`Service.submit` and read the same store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from captioning import Captioner, get_captioner
from options import AuditOptions
from service.jobs import Job, JobStore, Limits
from service.keys import KeyRing
from service.runner import JobRunner
from service.submit import AuditRequest, ServerLimits, submit


@dataclass
class Service:
    """Everything a front end needs: defaults, limits, the job store, the runner, the keys."""

    defaults: AuditOptions
    data_dir: Path
    allowed_models: Sequence[str] = ()
    max_site_pages: int = 200
    workers: int = 1
    keep_days: float | None = 30.0
    limits: Limits = field(default_factory=Limits)
    keys: KeyRing = field(default_factory=KeyRing)
    captioner: Captioner | None = None  # tests: a fake or tiny model instead of loading by name

    def __post_init__(self) -> None:
        self.allowed_models = list(dict.fromkeys([self.defaults.model, *self.allowed_models]))
        self.store = JobStore(self.data_dir, self.limits)
        self.server_limits = ServerLimits(self.allowed_models, self.max_site_pages)
        self.runner = JobRunner(self.store, self.captioner_for, self.workers, self.keys.limits(), self.keep_days)

    def captioner_for(self, options: AuditOptions) -> Captioner:
        """The one captioner of this process for the job's model (loaded once, shared by the workers)."""
        if self.captioner is not None:
            return self.captioner
        return get_captioner(options.captioner_spec)

    def start(self) -> list[str]:
        """Recover interrupted jobs and start the workers."""
        return self.runner.start()

    def submit(self, request: AuditRequest, owner: str, owner_limits: Limits | None = None) -> Job:
        """Queue a job (SubmitError or QueueFullError with one sentence) and wake a worker."""
        job = submit(self.store, request, self.defaults, self.server_limits, owner, owner_limits)
        self.runner.wake()
        return job
