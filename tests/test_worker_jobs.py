"""Job options as they travel in a message, and one model shared by jobs with their own
temporal history."""

from __future__ import annotations

import pytest

from streamdemoire.api import Demoirer
from streamdemoire.worker.jobs import JobFailed, JobOptions


def test_temporal_options_travel_with_the_job():
    options = JobOptions(codec="ffv1", temporal=False, temporal_strength=0.5)
    assert JobOptions.from_dict(options.to_dict()) == options
    assert JobOptions().temporal  # on by default, as in clean


@pytest.mark.parametrize("strength", [1.0, -0.1, "high"])
def test_a_bad_temporal_strength_fails_the_job(strength):
    with pytest.raises(JobFailed, match="temporal_strength"):
        JobOptions.from_dict({"temporal_strength": strength})


def test_each_stream_shares_the_engine_but_not_the_history(identity_checkpoint):
    shared = Demoirer(checkpoint=identity_checkpoint)
    first, second = shared.for_stream(), shared.for_stream(temporal=False)
    assert first.engine is shared.engine is second.engine
    assert first.smoother is not None and second.smoother is None
    assert shared.for_stream().smoother is not first.smoother
