"""dl3flow.workflow.jobserver: the warm fork server of local runs, with real processes."""

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dl3flow.workflow import jobserver
from dl3flow.workflow.jobserver import JOB_SERVER_ENV, delegate, job_modules, usable

REPO = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(
    usable(enabled=True, local=True) is not None, reason="the job server needs Linux"
)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"enabled": False, "local": True}, "job_server is false in the config"),
        ({"enabled": True, "local": False}, "not Snakemake's local executor"),
        ({"enabled": True, "local": True, "deployment": ["DeploymentMethod.CONDA"]}, "(conda)"),
        (
            {"enabled": True, "local": True, "deployment": ["apptainer", "conda"]},
            "(apptainer, conda)",
        ),
    ],
)
def test_usable_says_why_not(options, reason):
    assert reason in usable(**options)


def test_start_when_unusable_starts_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(JOB_SERVER_ENV, "/stale/socket")
    said = jobserver.start(scripts_dir=tmp_path, enabled=False)
    assert said == "job server off: job_server is false in the config"
    assert JOB_SERVER_ENV not in os.environ


def test_job_modules_lists_the_scripts_dl3flow_imports(tmp_path):
    (tmp_path / "b.py").write_text("from dl3flow.stats import cash\nimport numpy\n")
    (tmp_path / "a.py").write_text(
        "from dl3flow.workflow.jobserver import delegate\nimport dl3flow.geom\n"
        "from dl3flow.stats import x, y\nfrom . import local\n"
        "def f():\n    from dl3flow.irf import rare\n"
    )
    (tmp_path / "notes.txt").write_text("from dl3flow.cli import nothing\n")
    assert job_modules(tmp_path) == [
        "dl3flow.workflow.jobserver:delegate",
        "dl3flow.geom",
        "dl3flow.stats:x",
        "dl3flow.stats:y",
        "dl3flow.irf:rare",
        "dl3flow.stats:cash",
    ]


def test_delegate_without_a_server_returns(monkeypatch):
    monkeypatch.delenv(JOB_SERVER_ENV, raising=False)
    assert delegate() is None  # and this process goes on


def test_delegate_with_a_missing_socket_returns(monkeypatch, tmp_path):
    monkeypatch.setenv(JOB_SERVER_ENV, str(tmp_path / "no-socket"))
    assert delegate() is None


def test_every_script_delegates_first():
    """The first statements after a script's docstring: the import, then delegate()."""
    for path in sorted((REPO / "scripts").glob("*.py")):
        body = ast.parse(path.read_text()).body
        first, second = body[1], body[2]
        assert isinstance(first, ast.ImportFrom), path.name
        imported = (first.module, first.names[0].name)
        assert imported == ("dl3flow.workflow.jobserver", "delegate"), path.name
        assert ast.unparse(second) == "delegate()", path.name


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A running server (its socket path), stopped afterwards."""
    monkeypatch.setenv("PYTHONPATH", str(REPO / "src"))
    (tmp_path / "scripts").mkdir()
    said = jobserver.start(scripts_dir=tmp_path / "scripts")
    assert said.startswith("job server on"), said
    path = Path(os.environ[JOB_SERVER_ENV])
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, "the server did not come up in 60 s"
        time.sleep(0.05)
    yield path
    jobserver.stop()
    assert not path.parent.exists()
    assert JOB_SERVER_ENV not in os.environ


def _job(tmp_path, body: str) -> Path:
    script = tmp_path / "job.py"
    head = "from dl3flow.workflow.jobserver import delegate\ndelegate()\nimport os, sys\n"
    script.write_text(head + body)
    return script


def _env(socket_path):
    return {**os.environ, JOB_SERVER_ENV: str(socket_path), "DL3FLOW_TEST_VALUE": "seen"}


@linux_only
def test_a_served_job_runs_in_the_server_with_the_jobs_context(server, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    script = _job(
        tmp_path,
        "print(os.getpid(), os.getcwd(), os.environ['DL3FLOW_TEST_VALUE'], sys.argv[1:])\n"
        "print('to stderr', file=sys.stderr)\n"
        "sys.exit(3)\n",
    )
    job = subprocess.Popen(
        [sys.executable, str(script), "a", "b"],
        cwd=work,
        env=_env(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = job.communicate(timeout=60)
    assert job.returncode == 3, err
    pid, cwd, value, argv = out.split(" ", 3)
    assert (Path(cwd), value, argv.strip()) == (work, "seen", "['a', 'b']")
    assert "to stderr" in err
    assert int(pid) != job.pid  # run by the server's child, not by the job's process


@linux_only
def test_an_exception_in_a_served_job_exits_1_with_the_traceback(server, tmp_path):
    script = _job(tmp_path, "raise ValueError('bad observation 42')\n")
    result = subprocess.run(
        [sys.executable, str(script)], env=_env(server), capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ValueError: bad observation 42" in result.stderr


@linux_only
def test_a_served_job_killed_by_a_signal_kills_the_jobs_process(server, tmp_path):
    script = _job(tmp_path, "import signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    result = subprocess.run([sys.executable, str(script)], env=_env(server), timeout=60)
    assert result.returncode == -signal.SIGTERM


@linux_only
def test_killing_the_jobs_process_kills_the_served_job(server, tmp_path):
    marker = tmp_path / "child.pid"
    script = _job(
        tmp_path,
        f"open({str(marker)!r}, 'w').write(str(os.getpid()))\nimport time\ntime.sleep(120)\n",
    )
    job = subprocess.Popen([sys.executable, str(script)], env=_env(server))
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the served job did not start"
        time.sleep(0.05)
    child = int(marker.read_text())
    assert child != job.pid
    job.kill()
    job.wait()
    deadline = time.monotonic() + 20
    while Path(f"/proc/{child}").exists():
        assert time.monotonic() < deadline, "the served job outlived the job's process"
        time.sleep(0.05)


@linux_only
def test_a_job_of_another_interpreter_runs_itself(server, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/another/python")
    assert delegate() is None  # refused by the server: this process runs the job


def test_the_server_is_started_by_the_snakefile_and_stopped_on_both_ends():
    text = (REPO / "Snakefile").read_text()
    for hook, call in [("onstart", "jobserver.start("), ("onerror", "jobserver.stop()")]:
        assert call in text.split(f"{hook}:", 1)[1].split("\n\n\n", 1)[0], hook
    assert "jobserver.stop()" in text.split("onsuccess:", 1)[1]


@linux_only
def test_a_job_started_while_the_server_imports_is_served_at_once(tmp_path):
    """The socket comes first: a job that starts meanwhile is forked between two imports.

    (Its exit status is sent once the import under way when it ends is done.)
    """
    modules = tmp_path / "modules"
    modules.mkdir()
    # the job connects while the server imports the first, and is served before the second
    (modules / "first_module.py").write_text("import time\ntime.sleep(1)\n")
    (modules / "second_module.py").write_text("import time\ntime.sleep(2)\n")
    socket_path = tmp_path / "socket"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(modules)])}
    server = subprocess.Popen(
        [sys.executable, "-m", "dl3flow.workflow.jobserver", str(socket_path), str(os.getpid())]
        + ["first_module", "second_module"],
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists():
            assert time.monotonic() < deadline, "the server did not listen in 30 s"
            time.sleep(0.01)
        script = _job(
            tmp_path,
            "print(os.getppid(), 'first_module' in sys.modules, 'second_module' in sys.modules)\n",
        )
        result = subprocess.run(
            [sys.executable, str(script)], env=_env(socket_path), capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        parent, first, second = result.stdout.split()
        # served by a child of the server, forked between the two imports
        assert (int(parent), first, second) == (server.pid, "True", "False")
    finally:
        server.terminate()
        server.wait(timeout=30)
