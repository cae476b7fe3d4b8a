"""A server process parses the deployed diagrams and freezes its start-up objects before serving."""
import gc

import pytest

from app.extensions import db
from app.runtime import prepare_for_serving
from app.services import processes

from .api.helpers import DEMO_XML, deploy


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()  # the rest of the test run collects as usual


def test_prepare_for_serving_parses_each_newest_version_and_freezes(app, api, unfreeze):
    assert deploy(api, DEMO_XML, "demo.bpmn").status_code == 201
    newest = {d.sha256 for d in processes.latest_versions(db.session)}
    assert newest
    processes._cache.clear()  # as in a fresh process
    gc.unfreeze()
    prepare_for_serving(app)
    assert newest <= set(processes._cache)
    assert gc.get_freeze_count() > 0


def test_a_process_that_cannot_be_parsed_does_not_stop_the_start(app, api, unfreeze, monkeypatch, caplog):
    assert deploy(api, DEMO_XML, "demo.bpmn").status_code == 201
    processes._cache.clear()

    def broken(session, definition):
        raise ValueError("unparsable")

    monkeypatch.setattr(processes, "runnable", broken)
    prepare_for_serving(app)
    assert "parsing the deployed processes at start failed" in caplog.text
    assert gc.get_freeze_count() > 0
