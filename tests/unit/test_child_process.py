"""streams.child with real processes (no broker): readiness over the pipe, a child that
exits early, one never ready, one that dies while running, one that ignores SIGTERM, and a
child that dies with its parent."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from streams import child as child_module
from streams.child import ChildExited, ChildProcess

READY_THEN_SLEEP = textwrap.dedent("""
    import os, sys, time
    fd = int(sys.argv[sys.argv.index("--ready-fd") + 1])
    os.write(fd, b"1")
    time.sleep(60)
""")
IGNORE_TERM = textwrap.dedent("""
    import os, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    fd = int(sys.argv[sys.argv.index("--ready-fd") + 1])
    os.write(fd, b"1")
    time.sleep(60)
""")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_child_says_ready_and_stops_with_sigterm() -> None:
    child = ChildProcess("test", python(READY_THEN_SLEEP))
    child.start(timeout_s=30)
    assert child.proc is not None and child.proc.poll() is None

    async def scenario() -> None:
        stopping = asyncio.Event()
        task = asyncio.ensure_future(child.run(stopping))
        await asyncio.sleep(0.2)
        assert not task.done()
        stopping.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(scenario())
    assert child.proc.returncode == -15


def test_a_child_that_exits_before_ready_fails_the_start_with_its_code() -> None:
    child = ChildProcess("test", python("import sys; sys.exit(3)"))
    with pytest.raises(ChildExited, match=r"exited before it was ready \(code 3\)"):
        child.start(timeout_s=30)


def test_a_child_never_ready_is_killed_after_the_timeout() -> None:
    child = ChildProcess("slow", python("import time; time.sleep(60)"))
    with pytest.raises(ChildExited, match="not ready within 1 s"):
        child.start(timeout_s=1)
    assert child.proc is not None and child.proc.returncode == -9


def test_a_child_that_exits_while_running_is_reported_with_its_code() -> None:
    child = ChildProcess("test", python(READY_THEN_SLEEP))
    child.start(timeout_s=30)
    assert child.proc is not None
    child.proc.kill()
    with pytest.raises(ChildExited, match="exited with code -9"):
        asyncio.run(asyncio.wait_for(child.run(asyncio.Event()), 30))


def test_a_child_that_ignores_sigterm_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(child_module, "STOP_WAIT_S", 0.5)
    child = ChildProcess("stubborn", python(IGNORE_TERM))
    child.start(timeout_s=30)

    async def scenario() -> None:
        stopping = asyncio.Event()
        stopping.set()
        await asyncio.wait_for(child.run(stopping), 30)

    asyncio.run(scenario())
    assert child.proc is not None and child.proc.returncode == -9


MIDDLE = textwrap.dedent("""
    import os, subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c",
        "import os, sys, time; from streams import child; "
        "getattr(child, sys.argv[3])(int(sys.argv[1])); "
        "open(sys.argv[2], 'w').write(str(os.getpid())); "
        "time.sleep(60)", str(os.getpid()), sys.argv[1], sys.argv[2]])
    time.sleep(60)
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("how", ["die_with_parent", "watch_parent"])
def test_a_child_dies_when_its_parent_is_sigkilled(tmp_path: Path, how: str) -> None:
    """Both ways: the kernel's PR_SET_PDEATHSIG, and the polling thread used without it."""
    pid_file = tmp_path / "grandchild.pid"
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE, str(pid_file), how],
                              cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        grandchild = int(pid_file.read_text())
        assert _alive(grandchild)
        middle.kill()
        middle.wait(10)
        deadline = time.monotonic() + 10
        while _alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(grandchild)
    finally:
        if middle.poll() is None:
            middle.kill()


def test_a_child_whose_parent_is_already_gone_exits() -> None:
    orphan = subprocess.run(
        [sys.executable, "-c", "from streams.child import die_with_parent; "
         "die_with_parent(1 if __import__('os').getppid() != 1 else 2); print('ran on')"],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=30)
    assert orphan.returncode == 1 and "ran on" not in orphan.stdout
