"""Tests of dl3flow.io.atomic: atomic writes leave either the old file or the new one."""

import logging
import os
import stat
import warnings

import pytest
from astropy.table import Table

from dl3flow.io.atomic import (
    atomic_path,
    atomic_write,
    read_observations,
    script_logging,
    write_figure,
    write_observations,
    write_table,
)


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if ".tmp" in p.name)


def test_atomic_write_creates_file_and_parents(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    assert atomic_write(path, lambda tmp: tmp.write_text("hello")) == path
    assert path.read_text() == "hello"
    assert _leftovers(path.parent) == []


def test_atomic_path_keeps_suffix_in_target_dir(tmp_path):
    with atomic_path(tmp_path / "x.tar.gz") as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.endswith(".tar.gz")
        assert tmp.exists()
        tmp.write_bytes(b"1")
    assert (tmp_path / "x.tar.gz").read_bytes() == b"1"


def test_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "f", lambda tmp: tmp.write_text("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_failure_leaves_nothing_behind(tmp_path):
    def writer(tmp):
        tmp.write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "out.txt", writer)
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_existing_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def writer(tmp):
        tmp.write_text("new but broken")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, writer, overwrite=True)
    assert path.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_existing_file_not_overwritten_by_default(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    called = []
    with pytest.raises(FileExistsError, match=r"out.txt exists \(pass overwrite=True"):
        atomic_write(path, called.append)
    assert called == []
    assert path.read_text() == "old"
    atomic_write(path, lambda tmp: tmp.write_text("new"), overwrite=True)
    assert path.read_text() == "new"


def test_target_appearing_during_write_is_kept(tmp_path):
    path = tmp_path / "out.txt"

    def writer(tmp):
        tmp.write_text("mine")
        path.write_text("someone else's")

    with pytest.raises(FileExistsError, match="appeared while it was being written"):
        atomic_write(path, writer)
    assert path.read_text() == "someone else's"
    assert _leftovers(tmp_path) == []


def test_write_table_roundtrip_and_failure(tmp_path):
    table = Table({"OBS_ID": [1, 2], "X": [0.5, 1.5]})
    path = write_table(table, tmp_path / "t.ecsv")
    assert Table.read(path)["X"].tolist() == [0.5, 1.5]
    with pytest.raises(FileExistsError, match="t.ecsv exists"):
        write_table(table, path)
    with pytest.raises(Exception, match="format"):
        write_table(table, tmp_path / "u.ecsv", format="no-such-format")
    assert not (tmp_path / "u.ecsv").exists()
    assert _leftovers(tmp_path) == []


def test_write_figure(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1])
    path = write_figure(fig, tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="not supported"):
        write_figure(fig, tmp_path / "f.xyz")
    assert not (tmp_path / "f.xyz").exists()
    assert _leftovers(tmp_path) == []


def test_observations_roundtrip(tmp_path):
    selected = Table({"OBS_ID": [3, 5], "ZEN_PNT": [10.0, 20.0]}, meta={"EXTNAME": "OBS_INDEX"})
    selected["ZEN_PNT"].unit = "deg"
    rejected = Table({"OBS_ID": [4], "REASON": ["ZEN_PNT = 50 deg > 40 deg max"]})
    path = write_observations(selected, rejected, tmp_path / "obs.ecsv")
    sel, rej = read_observations(path)
    assert sel["OBS_ID"].tolist() == [3, 5]
    assert sel["ZEN_PNT"].unit == "deg"
    assert sel.meta["n_selected"] == 2 and sel.meta["n_rejected"] == 1
    assert rej["OBS_ID"].tolist() == [4]
    assert rej["REASON"].tolist() == ["ZEN_PNT = 50 deg > 40 deg max"]
    text = path.read_text()
    assert "ZEN_PNT = 50 deg > 40 deg max" in text


def test_observations_none_rejected(tmp_path):
    selected = Table({"OBS_ID": [1]})
    rejected = Table({"OBS_ID": [], "REASON": []}, dtype=[int, str])
    _, rej = read_observations(write_observations(selected, rejected, tmp_path / "o.ecsv"))
    assert len(rej) == 0 and rej.colnames == ["OBS_ID", "REASON"]


def test_script_logging_writes_messages_and_traceback(tmp_path):
    log = tmp_path / "logs" / "job.log"
    with pytest.raises(ValueError, match="bad obs"):
        with script_logging([str(log)]) as logger:
            logger.info("starting")
            logging.getLogger("dl3flow.makers.map").warning("from a module")
            warnings.warn("a python warning", UserWarning, stacklevel=1)
            raise ValueError("bad obs")
    text = log.read_text()
    assert "INFO dl3flow.script: starting" in text
    assert "WARNING dl3flow.makers.map: from a module" in text
    assert "a python warning" in text
    assert "Traceback" in text and "ValueError: bad obs" in text
    # the handler is removed afterwards
    logging.getLogger("dl3flow").warning("not in the file")
    assert "not in the file" not in log.read_text()


def test_script_logging_without_log_file(capsys):
    with script_logging([]) as logger:
        logger.warning("to stderr")
    assert "to stderr" in capsys.readouterr().err


def test_script_logging_turns_off_the_iers_download_without_importing_it():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from dl3flow.io.atomic import script_logging\n"
        "with script_logging([]):\n"
        "    pass\n"
        "assert 'astropy.utils.iers' not in sys.modules\n"
        "from astropy.utils import iers\n"
        "print(iers.conf.auto_download)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"
