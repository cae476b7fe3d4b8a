"""申请人办件查询: no account, the case number plus the query code."""
from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.get("/")
def index():
    """办件查询：输入统一受理号码和查询码"""
    return render_template("web/portal/index.html")
