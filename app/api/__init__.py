"""REST API blueprints (flask-smorest). Views stay thin: parse, call a service, dump."""
from flask import Flask, jsonify
from sqlalchemy import text

from ..extensions import api, db
from . import (admin, auth, authoring, calendar, cases, forms, incidents, intake, materials, migration, portal, processes,
               scenarios, signing, supervision, tasks, work)


def init_api(app: Flask) -> None:
    api.init_app(app)
    for module in (auth, admin, processes, authoring, forms, cases, materials, intake, tasks, calendar, supervision, portal, work, signing,
                   migration, incidents, scenarios):
        api.register_blueprint(module.blp)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]

    @app.get("/healthz")
    def healthz():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return jsonify({"status": "ok"})
