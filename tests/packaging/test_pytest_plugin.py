"""The pytest plugin as another project sees it: pytest run in a directory outside the checkout.

Each test writes a small project into tmp_path (so none of this repository's pytest settings
apply: pytest-asyncio is in its default strict mode) and runs pytest there in a subprocess,
with this environment's agentkit and pytest-asyncio.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import TIMEOUT

GREETER = """
import pytest

from agentkit import Agent
from agentkit.events import ResponseFinished, TranscriptDelta
from agentkit.testing import Scenario


@pytest.fixture
def realtime_agent():
    return Agent(instructions="Greet.", modality="text", turn_detection=None)


async def answer(session):
    text = ""
    async for event in session:
        if isinstance(event, TranscriptDelta):
            text += event.delta
        elif isinstance(event, ResponseFinished) and session.idle:
            return text


@pytest.mark.asyncio
@pytest.mark.realtime_simulator(scenario=Scenario().on("hi").say("Hello!"), api_key="k")
async def test_session_on_the_simulator(realtime_session, realtime_simulator):
    await realtime_session.send_text("hi")
    assert await answer(realtime_session) == "Hello!"
    assert realtime_simulator.connections[0].headers["api-key"] == "k"
"""


# pytest-asyncio warns when this is unset; -W error would turn that into a crash of its own.
LOOP_SCOPE = "asyncio_default_fixture_loop_scope = function"


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in ``project`` with this interpreter; the environment's plugins load as usual."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    strict = ["-p", "no:cacheprovider", "-W", "error", "--strict-markers"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *strict, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=12 * TIMEOUT,
        check=False,
    )


def write(project: Path, files: dict[str, str]) -> Path:
    """Write ``files``, with a pytest.ini that only silences pytest-asyncio's own warning."""
    files = {"pytest.ini": f"[pytest]\n{LOOP_SCOPE}\n", **files}
    for name, text in files.items():
        (project / name).write_text(text, encoding="utf-8")
    return project


def test_fixtures_work_in_strict_mode_with_the_asyncio_marker(tmp_path: Path) -> None:
    result = run_pytest(write(tmp_path, {"test_greeter.py": GREETER}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_fixtures_work_in_auto_mode_without_the_marker(tmp_path: Path) -> None:
    unmarked = GREETER.replace("@pytest.mark.asyncio\n", "")
    ini = f"[pytest]\nasyncio_mode = auto\n{LOOP_SCOPE}\n"
    files = {"test_greeter.py": unmarked, "pytest.ini": ini}
    result = run_pytest(write(tmp_path, files))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_endpoint_fixture_points_at_the_simulator(tmp_path: Path) -> None:
    test = """
import pytest

@pytest.mark.asyncio
async def test_endpoint(realtime_endpoint, realtime_simulator):
    assert realtime_endpoint.url == realtime_simulator.ga_url()
    assert realtime_endpoint.credential is not None
"""
    result = run_pytest(write(tmp_path, {"test_endpoint.py": test}))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_conftest_that_also_names_the_plugin_does_not_crash(tmp_path: Path) -> None:
    conftest = 'pytest_plugins = ["agentkit.testing.pytest_plugin"]\n'
    files = {"conftest.py": conftest, "test_greeter.py": GREETER}
    result = run_pytest(write(tmp_path, files))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_session_without_an_agent_fixture_says_what_to_define(tmp_path: Path) -> None:
    test = """
import pytest

@pytest.mark.asyncio
async def test_forgot_the_agent(realtime_session):
    pass
"""
    result = run_pytest(write(tmp_path, {"test_forgot.py": test}))
    assert result.returncode == 1
    assert "define a `realtime_agent` fixture" in result.stdout


def test_without_pytest_asyncio_other_tests_pass_and_the_fixtures_name_the_extra(
    tmp_path: Path,
) -> None:
    files = {
        "test_plain.py": "def test_plain():\n    assert True\n",
        "test_fixture.py": "def test_wants_it(realtime_simulator):\n    pass\n",
        "pytest.ini": "[pytest]\n",  # no asyncio options: pytest would warn they are unknown
    }
    result = run_pytest(write(tmp_path, files), "-p", "no:asyncio")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 error" in result.stdout
    assert 'pip install "agentkit-realtime[testing]"' in result.stdout
