"""综合窗口: the front desk's pages."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..extensions import db
from ..services import processes
from .session import login_required

bp = Blueprint("desk", __name__, url_prefix="/desk")


@bp.get("/")
@login_required("clerk", "admin")
def index():
    """综合窗口：选择要办理的一件事"""
    return render_template("web/desk/index.html", services=processes.services(db.session))
