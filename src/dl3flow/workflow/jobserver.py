"""A warm fork server for the workflow's Python jobs on a local run.

Each Snakemake ``script:`` job is a new Python process that spends 1-2 s importing
numpy, astropy and dl3flow before ~0.1 s of work. On a local run, the Snakefile's
``onstart`` starts one server (``start``) that imports all of that once; each job's
script calls ``delegate()`` first, which hands the job (its argv, working directory,
environment and standard streams) to the server over a Unix socket. The server forks
a child that runs the job's script (Snakemake's generated file, preamble included)
with those, and the job's process waits for the child's exit status and exits with
it. So each job still has its own process, inputs, outputs, log and exit status;
only the imports are shared, made once before any fork.

The server is used only where it is the same interpreter doing the same thing: Linux
(fork, ``pidfd_open``), Snakemake's local executor (a cluster job runs on another
node) and no conda or apptainer deployment (another interpreter). A job whose
interpreter differs from the server's, or that finds no server, runs itself.

Safety:
- the job's process dies (Snakemake kills it: ``--keep-going`` shutdown, Ctrl-C,
  timeout): the server sees its connection close and kills the child;
- Snakemake dies (even SIGKILL): the server notices its parent is gone and exits,
  killing the children it still runs;
- ``stop()`` (``onsuccess``/``onerror``) ends it and removes its socket.

Set ``job_server: false`` in the config to run every job in its own interpreter.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import sys

__all__ = ["JOB_SERVER_ENV", "delegate", "job_modules", "start", "stop", "usable"]

#: The environment variable through which jobs find the server's socket.
JOB_SERVER_ENV = "DL3FLOW_JOB_SERVER"

#: Imported by the server before any dl3flow module: the preamble of Snakemake's
#: script files and the per-observation stack.
BASE_MODULES = (
    "snakemake.script",
    "snakemake.iocontainers",
    "snakemake.logging",
    "numpy",
    "astropy.units",
    "astropy.io.fits",
)

_SERVED = False  # True in a child of the server: delegate() then returns at once
_HEADER = struct.Struct("!I")
_STATUS = struct.Struct("!i")
_started: list = []  # (process, socket directory) of the server start() started


def usable(*, enabled: bool, local: bool, deployment=()) -> str | None:
    """Why the server cannot be used for this run, or None when it can.

    Parameters
    ----------
    enabled : bool
        The config's ``job_server``.
    local : bool
        Whether Snakemake runs the jobs on this machine (its local executor).
    deployment : iterable of str
        Snakemake's software deployment methods (``conda``, ``apptainer``, ...).
    """
    if not enabled:
        return "job_server is false in the config"
    if not local:
        return "the jobs do not run on this machine (not Snakemake's local executor)"
    methods = sorted(str(m).rsplit(".", 1)[-1].lower() for m in deployment)
    if methods:
        return f"the jobs run in their own environments ({', '.join(methods)})"
    if sys.platform != "linux" or not hasattr(os, "pidfd_open"):
        return f"needs Linux with pidfd_open (this is {sys.platform})"
    return None


def job_modules(scripts_dir) -> list[str]:
    """What the workflow's scripts import from dl3flow, in first-seen order.

    ``module`` for ``import module``, ``module:name`` for ``from module import name``:
    the server imports the module and gets the name, which also loads the submodule
    behind a package's lazily exported name.
    """
    import ast
    from pathlib import Path

    seen: dict[str, None] = {}
    for path in sorted(Path(scripts_dir).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}:{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".", 1)[0].split(":", 1)[0] == "dl3flow":
                    seen.setdefault(name, None)
    return list(seen)


def start(*, scripts_dir, enabled: bool = True, local: bool = True, deployment=()) -> str:
    """Start the server for this run (Snakefile ``onstart``); returns what was done.

    The server's socket is published to the jobs in ``os.environ[JOB_SERVER_ENV]``.
    Nothing is started when ``usable`` says why not; that reason is returned.
    """
    import subprocess
    import tempfile

    why_not = usable(enabled=enabled, local=local, deployment=deployment)
    if why_not is not None:
        os.environ.pop(JOB_SERVER_ENV, None)
        return f"job server off: {why_not}"
    directory = tempfile.mkdtemp(prefix="dl3flow-jobs-")
    path = os.path.join(directory, "socket")
    modules = [*BASE_MODULES, *job_modules(scripts_dir)]
    process = subprocess.Popen(
        [sys.executable, "-m", "dl3flow.workflow.jobserver", path, str(os.getpid()), *modules],
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches Snakemake and the jobs, not the server
    )
    _started.append((process, directory))
    os.environ[JOB_SERVER_ENV] = path
    return f"job server on: {len(modules)} modules imported once, for the local jobs"


def stop() -> None:
    """End the server that ``start`` started, if any (Snakefile ``onsuccess``/``onerror``)."""
    import shutil

    os.environ.pop(JOB_SERVER_ENV, None)
    while _started:
        process, directory = _started.pop()
        process.terminate()
        try:
            process.wait(timeout=10)
        except Exception:  # noqa: BLE001 (it must go whatever happened)
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)


def delegate() -> None:
    """Run this job in the server if one is there; return only to run it here.

    The first statement of every workflow script. In the server's child, and when
    there is no server, no socket, or a server of another interpreter, it returns
    and the script runs in this process. Otherwise this process exits with the
    job's exit status once the server's child has run the script.
    """
    path = os.environ.get(JOB_SERVER_ENV)
    if _SERVED or not path:
        return
    request = {
        "executable": sys.executable,
        "version": list(sys.version_info[:3]),
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "path": sys.path,
    }
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        payload = json.dumps(request).encode()
        socket.send_fds(sock, [_HEADER.pack(len(payload)) + payload], [0, 1, 2])
        reply = _recv_exact(sock, _STATUS.size)
    except OSError:
        sock.close()
        return  # no server (yet, or any more): run here
    if not reply:  # the server closed without running it (another interpreter)
        sock.close()
        return
    (status,) = _STATUS.unpack(reply)
    sys.stdout.flush()
    sys.stderr.flush()
    if status < 0:  # the child was killed by a signal: so is this job
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    os._exit(status)


def _recv_exact(sock, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


# ---------------------------------------------------------------------------------
# the server (python -m dl3flow.workflow.jobserver SOCKET PARENT_PID MODULE...)


def _serve(path: str, parent: int, modules: list[str]) -> None:
    """Listen at ``path`` at once, then import ``modules`` one by one while serving.

    The socket exists before the imports: a job that starts while the server is still
    importing waits for it (at most one module's import) instead of importing
    everything in its own interpreter beside the server's, and its child imports what
    the server has not reached yet. Between two imports pending requests are served;
    once all are imported, the server only serves.
    """
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, ("accept", None))
    children: dict[int, tuple] = {}  # pid -> (connection, pidfd)
    signal.signal(signal.SIGTERM, lambda *_: _shutdown(children, 0))
    pending = list(modules)
    while True:
        if os.getppid() != parent:  # Snakemake is gone
            _shutdown(children, 0)
        for key, _ in sel.select(timeout=0 if pending else 0.5):
            _handle(key.data, listener, sel, children)
        if pending:  # never between a fork and its child: one thread, one at a time
            _import(pending.pop(0))


def _import(entry: str) -> None:
    """Import ``module`` or ``module:name`` (that name, which loads a lazy export)."""
    import importlib

    name, _, attribute = entry.partition(":")
    try:
        module = importlib.import_module(name)
        if attribute:
            getattr(module, attribute)
    except Exception as exc:  # noqa: BLE001 (a job importing it reports it properly)
        print(f"dl3flow job server: cannot import {entry}: {exc}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()


def _handle(data, listener, sel, children: dict) -> None:
    """One selector event: a new job, a job's process gone, or a child's exit."""
    kind, pid = data
    if kind == "accept":
        conn, _ = listener.accept()
        child = _fork_job(conn, listener, sel)
        if child is not None:
            pidfd = os.pidfd_open(child)
            children[child] = (conn, pidfd)
            sel.register(conn, selectors.EVENT_READ, ("client", child))
            sel.register(pidfd, selectors.EVENT_READ, ("exit", child))
    elif kind == "client":  # the job's process closed: it was killed
        os.kill(pid, signal.SIGKILL)
        _reap(pid, children, sel, send=False)
    else:
        _reap(pid, children, sel, send=True)


def _fork_job(conn, listener, sel) -> int | None:
    """Read one job's request from ``conn`` and fork its child; None if refused."""
    try:
        msg, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        (size,) = _HEADER.unpack(msg[: _HEADER.size])
        body = msg[_HEADER.size :]
        if len(body) < size:
            rest = _recv_exact(conn, size - len(body))
            if not rest:
                raise OSError("request cut short")
            body += rest
        request = json.loads(body)
    except (OSError, ValueError, struct.error):
        conn.close()
        return None
    same = request["executable"] == sys.executable and tuple(request["version"]) == tuple(
        sys.version_info[:3]
    )
    if not same or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        conn.close()  # the job runs itself
        return None
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    # the child: become the job
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sel.close()
        listener.close()
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = request["argv"]
        sys.path[:] = request["path"]
        global _SERVED
        _SERVED = True
        code = _run_script(request["argv"][0])
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _run_script(path: str) -> int:
    import runpy
    import traceback

    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 (reported as Python would, then exit 1)
        traceback.print_exc()
        return 1
    return 0


def _reap(pid: int, children: dict, sel, *, send: bool) -> None:
    conn, pidfd = children.pop(pid)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)  # negative: killed by that signal
    for obj in (conn, pidfd):
        sel.unregister(obj)
    if send:
        try:
            conn.sendall(_STATUS.pack(code))
        except OSError:
            pass
    conn.close()
    os.close(pidfd)


def _shutdown(children: dict, code: int) -> None:
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(code)


if __name__ == "__main__":
    # through the imported module, not this __main__ copy: its _SERVED is the one the
    # jobs' delegate() reads
    from dl3flow.workflow.jobserver import _serve as serve

    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
