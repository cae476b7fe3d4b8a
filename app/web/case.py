"""The case page: facts, deadlines, tasks and the timeline from the audit log."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..errors import Forbidden
from ..extensions import db
from ..services import audit, cases, privacy
from ..api.cases import _may_read, case_json
from .session import current_user, login_required

bp = Blueprint("case", __name__, url_prefix="/cases")


@bp.get("/<string:case_no>")
@login_required()
def show(case_no):
    """办件详情"""
    user = current_user()
    row = cases.get_case(db.session, case_no)
    if not _may_read(user, row):
        raise Forbidden("无权查看该办件")
    events = [{"at": e.at, "action": e.action, "after": privacy.mask_data(user, e.after)}
              for e in audit.case_events(db.session, row.id)]
    return render_template("web/case/show.html", case=case_json(row), events=events)
