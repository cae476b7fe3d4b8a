"""Notice PDFs: the stored notice HTML rendered by WeasyPrint, entirely offline.

WeasyPrint and the system libraries it loads (on Debian: libpango-1.0-0, libpangoft2-1.0-0,
libharfbuzz-subset0) are imported on first use, so the app starts, and serves the HTML notices,
without them. The notices are set in "Noto Serif CJK SC" (Debian package fonts-noto-cjk).

Rendering never fetches anything: there is no base URL, and the URL fetcher refuses every URL
(http, https, file, data, ...), so a notice cannot make the server open a connection or read a
file. A refused resource is left out and the rest of the document still renders.
"""
from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

from ..errors import ServiceUnavailable

log = logging.getLogger(__name__)

UNAVAILABLE = "PDF 生成组件不可用，请使用 HTML 打印"

# pango and fontconfig are not reliably thread-safe; notices are small, so render one at a time.
_render_lock = threading.Lock()


class RefusedFetch(ValueError):
    """Raised by the URL fetcher for every URL; WeasyPrint then skips that resource."""


def _weasyprint() -> Any:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # the package, or pango/harfbuzz/fontconfig, is missing
        log.warning("WeasyPrint unavailable: %s", exc)
        raise ServiceUnavailable(UNAVAILABLE) from exc
    return weasyprint


@lru_cache(maxsize=1)
def _refusing_fetcher_class(url_fetcher_base: type) -> type:
    class RefusingFetcher(url_fetcher_base):
        """Fetches nothing: every URL is refused before any handler sees it."""

        def fetch(self, url, headers=None):
            log.warning("notice PDF: refused to fetch %s", str(url)[:200])
            raise RefusedFetch(f"fetching is disabled: {str(url)[:200]}")

    return RefusingFetcher


def refusing_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses every URL."""
    weasyprint = _weasyprint()
    return _refusing_fetcher_class(weasyprint.URLFetcher)()


def render_pdf(html: str) -> bytes:
    """The PDF of one HTML document; raises ServiceUnavailable (503) without WeasyPrint."""
    weasyprint = _weasyprint()
    fetcher = refusing_fetcher()
    with _render_lock:
        return weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
