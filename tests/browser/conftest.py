"""Fixtures for tests that drive headless Chromium against Jupyter servers.

Servers (session-wide, started on first use): ``lab_server``,
``notebook_server``, ``voila_server``; their kernels find the tour's trained
detector in ``tour_cache``. Browser: ``browser`` (session-wide),
``page`` (a fresh context per test; requests off 127.0.0.1 are aborted),
``page_log`` / ``js_errors`` (console errors and uncaught exceptions), and
``screenshot`` (saves into the artifacts folder). Page helpers live in
``_pages.py``.

Without /usr/bin/chromium (install it with ``.ci/install_browser.sh``) the
tests are skipped, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ._pages import safe_file_name, save_screenshot
from ._servers import JupyterServer, start_server

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
REPO_ROOT = Path(__file__).resolve().parents[2]

# Everything except the local servers, data: and blob: URLs. Matched inside
# the browser, so local requests never wait for Python.
NON_LOCAL_URL = re.compile(r"^(?!(?:https?|wss?)://127\.0\.0\.1[:/]|data:|blob:)")

# jupyter-cytoscape (ipycytoscape 1.3.3) declares an older widgets base; the
# graph works regardless. Exactly this message, nothing else, is ignored.
_CYTOSCAPE_VERSION_WARNING = re.compile(
    r"Unsatisfied version \S+ from @jupyter-widgets/jupyterlab-manager of shared "
    r"singleton module @jupyter-widgets/base \(required \^1\.1\.10 \|\| \^2 \|\| "
    r"\^3 \|\| \^4\.0\.0\)"
)
_FAILED_RESOURCE = "Failed to load resource: net::ERR_FAILED"
# Notebook 7.6.5's shortcut settings handler reads the schema of a plugin
# whose settings failed to load ("has no transformers yet") at start-up.
# Upstream and harmless; ignored only when thrown from Notebook 7's core.
_NOTEBOOK7_SCHEMA_ERROR = "Cannot read properties of undefined (reading 'schema')"
_NOTEBOOK7_CORE = re.compile(r"/static/notebook/notebook_core\.[0-9a-f]+\.js")

_ARTIFACTS_KEY = pytest.StashKey[Path]()
_REPORT_KEY = pytest.StashKey[dict]()


@dataclass
class PageLog:
    """What a page said while a test ran.

    Attributes
    ----------
    errors : list of str
        Console errors and uncaught exceptions, less the known harmless ones;
        a test asserts this is empty.
    ignored : list of str
        The errors and warnings that matched a known harmless pattern.
    messages : list of str
        Every console message, as ``"type: text"``.
    aborted : list of str
        URLs of requests aborted because they left 127.0.0.1.
    """

    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)

    def on_console(self, message) -> None:
        text = message.text
        self.messages.append(f"{message.type}: {text}")
        if message.type not in ("error", "assert", "warning"):
            return
        url = (message.location or {}).get("url", "")
        if _CYTOSCAPE_VERSION_WARNING.search(text) or (
            text.startswith(_FAILED_RESOURCE) and url in self.aborted
        ):
            self.ignored.append(f"console.{message.type}: {text}")
        elif message.type != "warning":
            self.errors.append(f"console.{message.type}: {text} ({url})")

    def on_page_error(self, error) -> None:
        stack = error.stack or ""
        if error.message == _NOTEBOOK7_SCHEMA_ERROR and _first_frame_matches(
            stack, _NOTEBOOK7_CORE
        ):
            self.ignored.append(f"pageerror: {error.message}")
            return
        self.errors.append(f"pageerror: {error.message}\n{stack}")

    def on_blocked_request(self, route) -> None:
        self.aborted.append(route.request.url)
        route.abort()


def _first_frame_matches(stack: str, pattern: re.Pattern) -> bool:
    frames = [line for line in stack.splitlines() if line.strip().startswith("at ")]
    return bool(frames) and bool(pattern.search(frames[0]))


# Markers and reports -------------------------------------------------------


def pytest_collection_modifyitems(config, items) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORT_KEY, {})[report.when] = report
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    folder = config.stash.get(_ARTIFACTS_KEY, None)
    if folder is not None:
        terminalreporter.write_sep("-", "browser test artifacts")
        terminalreporter.write_line(f"screenshots and logs: {folder}")


@pytest.fixture(scope="session")
def artifacts_dir(pytestconfig) -> Path:
    """The folder for screenshots: ``$DEEPAID_ARTIFACTS`` or test-artifacts/browser.

    Its path is printed once, in the terminal summary.
    """
    folder = Path(
        os.environ.get("DEEPAID_ARTIFACTS") or REPO_ROOT / "test-artifacts" / "browser"
    )
    folder.mkdir(parents=True, exist_ok=True)
    pytestconfig.stash[_ARTIFACTS_KEY] = folder
    return folder


# Servers -------------------------------------------------------------------


def _server(kind: str, tmp_path_factory, kdd_cache: str) -> Iterator[JupyterServer]:
    # Kernels inherit the server's environment: the tour notebook's
    # nsl_kdd_detector() then reuses the session's cache (see tour_cache).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPAID_CACHE", kdd_cache)
        server = start_server(kind, tmp_path_factory.mktemp(kind))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, kdd_cache: str) -> Iterator[JupyterServer]:
    """JupyterLab 4 on 127.0.0.1, serving an empty temporary root."""
    yield from _server("lab", tmp_path_factory, kdd_cache)


@pytest.fixture(scope="session")
def notebook_server(tmp_path_factory, kdd_cache: str) -> Iterator[JupyterServer]:
    """Notebook 7 on 127.0.0.1, serving an empty temporary root."""
    yield from _server("notebook", tmp_path_factory, kdd_cache)


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory, kdd_cache: str) -> Iterator[JupyterServer]:
    """Voila on 127.0.0.1 in folder mode: /voila/render/NAME.ipynb."""
    yield from _server("voila", tmp_path_factory, kdd_cache)


@pytest.fixture(scope="session")
def tour_cache(kdd_cache: str) -> str:
    """The session's detector cache, holding the tour's trained NSL-KDD detector.

    Every server gives its kernels this folder as ``DEEPAID_CACHE``, so a
    notebook calling ``nsl_kdd_detector()`` loads the ``.npz`` instead of
    training. Trained here on one thread: on two shared cores, two torch
    threads made it 8 times slower (18 s against 2.3 s), with the same
    weights bit for bit.
    """
    import torch

    from deepaid_widgets.demo import nsl_kdd_detector

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DEEPAID_CACHE", kdd_cache)
            nsl_kdd_detector()
    finally:
        torch.set_num_threads(threads)
    return kdd_cache


# Browser -------------------------------------------------------------------


def _require_browser() -> None:
    if sync_playwright is None:
        problem = "the Python package playwright is not installed"
    elif not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing; install it with .ci/install_browser.sh"
    else:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (CI is set, so this fails instead of skipping)")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright, with a fresh profile."""
    _require_browser()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_log() -> PageLog:
    """The console errors, warnings and aborted requests of this test's page."""
    return PageLog()


@pytest.fixture
def js_errors(page_log: PageLog) -> list[str]:
    """Console errors and uncaught exceptions of the page; assert it is empty."""
    return page_log.errors


@pytest.fixture
def page(browser, page_log: PageLog, artifacts_dir: Path, request):
    """A page in a fresh browser context that can reach only 127.0.0.1.

    Requests elsewhere are aborted (``page_log.aborted``); console errors and
    uncaught exceptions go to ``page_log``. When the test fails, a screenshot
    and the console log are saved into the artifacts folder.
    """
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    new_page = context.new_page()
    new_page.route(NON_LOCAL_URL, page_log.on_blocked_request)
    new_page.route_web_socket(NON_LOCAL_URL, lambda socket: socket.close())
    new_page.on("console", page_log.on_console)
    new_page.on("pageerror", page_log.on_page_error)

    yield new_page

    reports = request.node.stash.get(_REPORT_KEY, {})
    if any(report.failed for report in reports.values()):
        name = f"FAILED-{safe_file_name(request.node.nodeid)}"
        try:
            save_screenshot(new_page, artifacts_dir, name)
        finally:
            log = "\n".join([*page_log.messages, "--- errors", *page_log.errors])
            (artifacts_dir / f"{name}.console.txt").write_text(log)
    context.close()


@pytest.fixture
def screenshot(page, artifacts_dir: Path, request) -> Callable[..., Path]:
    """Save a screenshot of ``page`` as ``<test name>-<label>.png``; return it.

    Call as ``screenshot(label)`` or ``screenshot(label, show=locator)`` to
    scroll ``locator`` into view first.
    """

    def take(label: str, show=None) -> Path:
        name = f"{request.node.name}-{label}"
        return save_screenshot(page, artifacts_dir, name, show)

    return take
