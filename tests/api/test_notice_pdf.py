"""Notices as PDF: rendered by WeasyPrint in Noto CJK, same access rule as the HTML, never fetching anything."""
from __future__ import annotations

import io
import logging
import socket
import sys
import urllib.request
from urllib.parse import unquote

import pytest
from pypdf import PdfReader

from app.errors import ServiceUnavailable
from app.services import pdf

from .startup import case_of, complete, start

ITEM = "公司章程缺少全体股东签字"


def _correction_notice(api) -> tuple[str, dict]:
    """A 企业开办 case whose intake asked for a correction: its 补正材料一次性告知书."""
    clerk = api.as_user("window_clerk")
    case_no = start(clerk)["case_no"]
    resp = complete(api, case_of(api, case_no), "task_intake",
                    {"intake_result": "correct", "correction_items": ITEM})
    assert resp.status_code == 200, resp.body
    [notice] = clerk.get(f"/api/v1/cases/{case_no}/notices").body
    assert notice["kind"] == "correction"
    return case_no, notice


def _font_names(reader: PdfReader) -> set[str]:
    return {str(font.get_object()["/BaseFont"]) for page in reader.pages
            for font in page["/Resources"]["/Font"].values()}


def test_a_notice_downloads_as_a_pdf_set_in_a_cjk_font(api):
    case_no, notice = _correction_notice(api)
    assert notice["pdf_url"] == f"/api/v1/notices/{notice['id']}.pdf"
    results = api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}/results").body
    assert [n["pdf_url"] for n in results["notices"]] == [notice["pdf_url"]]

    resp = api.as_user("window_clerk").get(notice["pdf_url"])
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="notice-{notice["id"]}.pdf"; ')
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert encoded.isascii() and unquote(encoded) == f"{notice['number']}.pdf"

    body = resp.get_data()
    assert body.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(body))
    text = "".join("".join(page.extract_text() for page in reader.pages).split())  # the title is letter-spaced
    assert "补正材料一次性告知书" in text and case_no in text and ITEM in text and notice["number"] in text
    # the characters come out as text because a CJK font was embedded: the one base.html asks for
    fonts = _font_names(reader)
    assert fonts and all("Noto-Serif-CJK-SC" in name for name in fonts), fonts


def test_the_pdf_follows_the_access_rule_of_the_case(api):
    _, notice = _correction_notice(api)
    outsider = api.as_user("tax_approver")  # no task in this case
    resp = outsider.get(notice["pdf_url"])
    assert resp.status_code == 403 and resp.mimetype == "application/json" and resp.body["message"]
    assert outsider.get(notice["url"]).status_code == 403  # the same rule as the HTML
    assert api.as_user("window_clerk").get("/api/v1/notices/999999.pdf").status_code == 404
    assert api.get(notice["pdf_url"]).status_code == 401


def test_without_weasyprint_the_pdf_is_a_503_and_the_html_still_prints(api, monkeypatch):
    _, notice = _correction_notice(api)
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # `import weasyprint` now raises ImportError
    clerk = api.as_user("window_clerk")
    resp = clerk.get(notice["pdf_url"])
    assert resp.status_code == 503 and resp.body["message"] == "PDF 生成组件不可用，请使用 HTML 打印"
    assert clerk.get(notice["url"]).status_code == 200


def test_render_pdf_raises_service_unavailable_without_weasyprint(monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(ServiceUnavailable) as raised:
        pdf.render_pdf("<p>文书</p>")
    assert raised.value.status == 503 and "HTML 打印" in raised.value.message


def test_rendering_refuses_every_url_and_fetches_nothing(monkeypatch, caplog):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    live = f"http://127.0.0.1:{listener.getsockname()[1]}/logo.png"
    opened, connected = [], []

    def no_open(self, *args, **kwargs):
        opened.append(args)
        raise OSError("urllib must not be used")

    def no_connect(self, address):
        connected.append(address)
        raise OSError("no connections while rendering")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", no_open)
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    urls = {"http://127.0.0.1:1/x.png", "file:///etc/passwd", live}
    html = ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<link rel=stylesheet href="file:///etc/passwd"></head>'
            '<body><p>受理通知书</p><img src="http://127.0.0.1:1/x.png">'
            f'<img src="{live}"></body></html>')
    try:
        with caplog.at_level(logging.WARNING, logger=pdf.__name__):
            body = pdf.render_pdf(html)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
    finally:
        listener.close()

    assert body.startswith(b"%PDF")
    assert "受理通知书" in PdfReader(io.BytesIO(body)).pages[0].extract_text()
    refused = {r.getMessage().removeprefix("notice PDF: refused to fetch ")
               for r in caplog.records if r.name == pdf.__name__}
    assert refused == urls  # each resource was asked for, and refused
    assert opened == [] and connected == []
