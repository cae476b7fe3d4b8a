"""A server process made ready before its first request: diagrams parsed, start-up objects frozen.

Python's cyclic garbage collector walks every tracked object on each full
(generation 2) collection. A server process holds ~190,000 long-lived objects
once it has started (modules, SQLAlchemy's mappers, the parsed diagrams), and
walking them took ~130 ms on the benchmark machine: a pause that every request
in flight waits out, several times a minute under load. Objects frozen with
``gc.freeze()`` are no longer walked (a full collection then took ~2 ms); they
are the process's permanent furniture, which would never be collected anyway.

The newest version of each deployed process is parsed first, so the first
case of each service neither waits for its parse nor leaves the parsed spec
(the largest long-lived structure) outside the frozen set.
"""
from __future__ import annotations

import gc
import logging

from flask import Flask

log = logging.getLogger(__name__)


def parse_deployed(app: Flask) -> int:
    """Parse the newest version of every deployed process into this process's cache; how many."""
    from .extensions import db
    from .services import processes
    parsed = 0
    with app.app_context():
        try:
            for definition in processes.latest_versions(db.session):
                processes.runnable(db.session, definition)
                parsed += 1
        except Exception:  # a warm-up only: the first request parses (and reports) it instead
            log.exception("parsing the deployed processes at start failed")
        finally:
            db.session.remove()
    return parsed


def prepare_for_serving(app: Flask) -> None:
    """Called once per server process (waitress, or each gunicorn worker), just before it serves."""
    parse_deployed(app)
    gc.collect()  # nothing collectable is frozen with the rest
    gc.freeze()
