"""Headless Chromium (Debian's) driven by Playwright, with the network cut off.

Used by the map tests and by benchmarks/bench_map.py. Every http(s) request is
recorded and aborted; ``file://`` and ``data:`` load normally.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@dataclass
class PageRun:
    page: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    render_s: float = float("nan")
    started: float = float("nan")  # time.perf_counter() at navigation

    def seconds_until(self, condition: str, timeout_ms: int = 60000) -> float:
        """Seconds from navigation until ``condition`` holds (polled, as ``wait_js``)."""
        wait_for(self.page, condition, timeout_ms)
        return time.perf_counter() - self.started


def wait_for(page: Any, condition: str, timeout_ms: int) -> None:
    """Wait until the JavaScript ``condition`` (an expression, or ``() => ...``) is true, polled from here.

    Playwright's own ``wait_for_function`` polls inside the page with ``eval``, which the
    maps' Content-Security-Policy forbids: a condition that is not true at the first look
    failed with an EvalError. ``page.evaluate`` goes through the DevTools protocol, which
    the policy does not govern.
    """
    fn = condition if condition.lstrip().startswith(("()", "function")) else f"() => ({condition})"
    end = time.perf_counter() + timeout_ms / 1000
    while not page.evaluate(fn):
        if time.perf_counter() > end:
            raise TimeoutError(f"{condition!r} still false after {timeout_ms} ms")
        time.sleep(0.005)


@contextmanager
def open_page(path: Path, *, viewport=(1400, 900), fulfil: dict[str, bytes] | None = None, wait_js: str | None = None,
              timeout_ms: int = 60000) -> Iterator[PageRun]:
    """Open a local HTML file; block (or fulfil from ``fulfil``) every web request."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("no chromium on PATH (make test installs Debian's chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            run = PageRun(page=page)
            page.on("pageerror", lambda e: run.errors.append(str(e)))
            page.on("console", lambda m: run.console_errors.append(m.text) if m.type == "error" else None)

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(("http://", "https://")):
                    for prefix, body in (fulfil or {}).items():
                        if url.startswith(prefix):
                            ctype = "text/css" if url.endswith(".css") else "application/javascript"
                            r.fulfill(status=200, body=body, headers={"content-type": ctype})
                            return
                    run.blocked.append(url)
                    r.abort()
                else:
                    r.continue_()

            page.route("**/*", route)
            t0 = run.started = time.perf_counter()
            page.goto(path.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
            if wait_js:
                wait_for(page, wait_js, timeout_ms)
            # two animation frames after load: the canvas has been drawn
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            run.render_s = time.perf_counter() - t0
            yield run
        finally:
            browser.close()
