"""Start and stop JupyterLab, Notebook 7 and Voila for the browser tests.

Every server listens on 127.0.0.1 only, on a free port, with a random token,
and keeps its configuration, runtime, settings and workspaces in a temporary
folder of its own. It serves a temporary root folder, never the repository:
notebooks are copied (or written) there, so autosave cannot touch our files.
Servers are stopped by PID: SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import nbformat

HOST = "127.0.0.1"

# The news and update checks call the internet and open a toast over the
# notebook; both JupyterLab and Notebook 7 read this settings file.
_NOTIFICATION_SETTINGS = {"fetchNews": "false", "checkForUpdates": False}

# Lab extensions that fail in a front end they were not built for, and that no
# test needs there. Voila 0.5.13 cannot load Notebook 7's lab extension ("The
# getter for the shared module is not a function", RUNTIME-012); Notebook
# 7.6.5 logs "Cannot convert undefined or null to object" from Voila's
# JupyterLab preview extension. Turning them off keeps console errors for ours.
_VOILA_DENIED_EXTENSIONS = ["@jupyter-notebook/lab-extension"]
_NOTEBOOK_DISABLED_EXTENSIONS = ["@voila-dashboards/jupyterlab-preview"]

_LAB_FLAGS = [
    "--LabApp.news_url=None",
    "--LabApp.extension_manager=readonly",
    "--LabApp.check_for_updates_class="
    "jupyterlab.handlers.announcements.NeverCheckForUpdate",
]


class ServerStartError(RuntimeError):
    """A server process exited or did not become ready in time."""


@dataclass
class JupyterServer:
    """A running Jupyter front end serving a temporary root folder.

    Attributes
    ----------
    kind : str
        ``"lab"``, ``"notebook"`` or ``"voila"``.
    port, token : int, str
        Where it listens on 127.0.0.1 and the token every URL needs.
    root_dir : pathlib.Path
        The folder it serves; add notebooks with :meth:`copy_notebook` or
        :meth:`write_notebook`.
    process : subprocess.Popen
        The server process; :meth:`stop` ends it by PID.
    log_path : pathlib.Path
        Its combined stdout and stderr, useful when a test fails.
    """

    kind: str
    port: int
    token: str
    root_dir: Path
    process: subprocess.Popen
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str, **query: str) -> str:
        """Return the absolute URL of ``path`` with the token in the query."""
        params = {"token": self.token, **query}
        return f"{self.base_url}/{path.lstrip('/')}?{urlencode(params)}"

    def notebook_url(self, name: str) -> str:
        """Return the URL that opens notebook ``name`` in this front end.

        JupyterLab gets ``&reset`` so tabs of an earlier test are not
        restored; Voila renders the notebook (which starts a kernel).
        """
        quoted = quote(name)
        if self.kind == "lab":
            return self.url(f"lab/tree/{quoted}") + "&reset"
        if self.kind == "notebook":
            return self.url(f"notebooks/{quoted}")
        return self.url(f"voila/render/{quoted}")

    def copy_notebook(self, source: str | os.PathLike, name: str | None = None) -> str:
        """Copy a notebook into the served root and return its name there.

        Parameters
        ----------
        source : path-like
            The notebook to copy; it is never opened in place.
        name : str, optional
            The file name in the served root; defaults to the source's name.
        """
        source = Path(source)
        name = name or source.name
        shutil.copyfile(source, self.root_dir / name)
        return name

    def write_notebook(self, notebook: nbformat.NotebookNode, name: str) -> str:
        """Write an ``nbformat`` notebook into the served root; return its name."""
        nbformat.write(notebook, self.root_dir / name)
        return name

    def list_kernels(self) -> list[dict]:
        """Return the running kernels of a JupyterLab or Notebook 7 server."""
        with urllib.request.urlopen(self.url("api/kernels"), timeout=10) as reply:
            return json.load(reply)

    def shutdown_kernels(self) -> None:
        """Shut down every kernel of a JupyterLab or Notebook 7 server.

        Session-wide servers keep one kernel per opened notebook; call this
        to free them. Voila has no kernel API (404): its kernels, one per
        rendered page, outlive the page and end with the server.
        """
        if self.kind == "voila":
            return
        for kernel in self.list_kernels():
            request = urllib.request.Request(
                self.url(f"api/kernels/{kernel['id']}"), method="DELETE"
            )
            with urllib.request.urlopen(request, timeout=30):
                pass

    def log_tail(self, characters: int = 4000) -> str:
        """Return the end of the server log, for failure messages."""
        if self._log_file is not None:
            self._log_file.flush()
        text = self.log_path.read_text(errors="replace")
        return text[-characters:]

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the server by PID: SIGTERM, wait ``grace_s``, then SIGKILL."""
        stop_process(self.process, grace_s)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """End ``process`` by its PID: SIGTERM first, SIGKILL after ``grace_s``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace_s)


def isolated_env(workdir: Path) -> dict[str, str]:
    """Return an environment whose Jupyter state lives under ``workdir``.

    The notification settings file that turns off news and update checks is
    written into the new settings folder.
    """
    env = dict(os.environ)
    folders = {
        "JUPYTER_CONFIG_DIR": workdir / "config",
        "JUPYTER_RUNTIME_DIR": workdir / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": workdir / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": workdir / "lab-workspaces",
        "JUPYTER_DATA_DIR": workdir / "data",
        "IPYTHONDIR": workdir / "ipython",
    }
    for variable, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        env[variable] = str(folder)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"

    settings = folders["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab/apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps(_NOTIFICATION_SETTINGS)
    )
    return env


def start_server(kind: str, workdir: Path, timeout_s: float = 60.0) -> JupyterServer:
    """Start a ``"lab"``, ``"notebook"`` or ``"voila"`` server; wait until ready.

    Parameters
    ----------
    kind : str
        Which front end to start.
    workdir : pathlib.Path
        An empty temporary folder; the served root is ``workdir / "root"``
        and the Jupyter state folders sit beside it.
    timeout_s : float
        How long to wait for readiness before raising ``ServerStartError``.

    Readiness: for JupyterLab and Notebook 7, ``/api/status`` answers 200.
    Voila is ready when its port accepts connections; it is never polled
    over HTTP, because each page request to it starts a kernel.
    """
    if kind not in ("lab", "notebook", "voila"):
        raise ValueError(f"kind must be 'lab', 'notebook' or 'voila', got {kind!r}")

    root_dir = workdir / "root"
    root_dir.mkdir(parents=True, exist_ok=True)
    env = isolated_env(workdir)
    if kind == "notebook":
        _disable_lab_extensions(env, _NOTEBOOK_DISABLED_EXTENSIONS)
    port = free_port()
    token = secrets.token_hex(24)
    command = _command(kind, root_dir, port, token)

    log_path = workdir / f"{kind}.log"
    log_file = log_path.open("w")
    process = subprocess.Popen(
        command,
        cwd=root_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = JupyterServer(kind, port, token, root_dir, process, log_path, log_file)

    try:
        _wait_ready(server, timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _command(kind: str, root_dir: Path, port: int, token: str) -> list[str]:
    if kind == "voila":
        # Directory mode: every notebook of the root renders at
        # /voila/render/NAME.ipynb, so a session-wide server can take
        # notebooks added later.
        return [
            sys.executable,
            "-m",
            "voila",
            str(root_dir),
            "--no-browser",
            f"--Voila.ip={HOST}",
            f"--Voila.port={port}",
            "--Voila.port_retries=0",
            f"--Voila.token={token}",
            "--VoilaConfiguration.show_tracebacks=True",
            *(
                f"--VoilaConfiguration.extension_denylist={name}"
                for name in _VOILA_DENIED_EXTENSIONS
            ),
        ]

    # The apps' own modules, run by this interpreter: no PATH lookup, and
    # the PID we hold is the server's (``jupyter lab`` would exec a script).
    module = "jupyterlab" if kind == "lab" else "notebook"
    command = [
        sys.executable,
        "-m",
        module,
        "--no-browser",
        f"--ip={HOST}",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--expose-app-in-browser",
    ]
    if kind == "lab":
        command += _LAB_FLAGS
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def _disable_lab_extensions(env: dict[str, str], names: list[str]) -> None:
    labconfig = Path(env["JUPYTER_CONFIG_DIR"]) / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": dict.fromkeys(names, True)}
    (labconfig / "page_config.json").write_text(json.dumps(page_config))


def _wait_ready(server: JupyterServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerStartError(
                f"{server.kind} exited with code {server.process.returncode} "
                f"before it was ready; log:\n{server.log_tail()}"
            )
        if _is_ready(server):
            return
        time.sleep(0.2)
    raise ServerStartError(
        f"{server.kind} was not ready on port {server.port} after {timeout_s} s; "
        f"log:\n{server.log_tail()}"
    )


def _is_ready(server: JupyterServer) -> bool:
    if server.kind == "voila":
        try:
            with socket.create_connection((HOST, server.port), timeout=1):
                return True
        except OSError:
            return False

    try:
        with urllib.request.urlopen(server.url("api/status"), timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False
