"""agentkit as users install it: the built wheel in fresh venvs outside the checkout.

* The wheel's metadata: the distribution name, the extras, the pytest entry point.
* ``pip install <wheel> pytest`` (no testing extra) leaves another project's suite passing.
* The docs' marked blocks run as written: ``<!-- checked: file NAME -->`` before a code block
  writes it to a throwaway project, ``<!-- checked: commands -->`` runs each command in it (its
  ``pip install agentkit-realtime...`` with the wheel in place of the name; output shown under a
  ``$`` line must match). The venv the docs make and activate is the one the test made. Then
  the page's tests run, without a warning if the page gives a ``pyproject.toml``.

Dependencies come from the package index (pip's cache makes repeated runs quick); without one,
the tests are skipped and say so.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
DIST = "agentkit-realtime"
INSTALL_TIMEOUT = 60 * TIMEOUT
RUN_TIMEOUT = 12 * TIMEOUT
MARKED = re.compile(
    r"^<!-- checked: (?:file (?P<name>\S+)|(?P<commands>commands)) -->\n"
    r"```(?P<lang>\w+)\n(?P<body>.*?)^```",
    re.S | re.M,
)
DOC_PAGES = ("quickstart.md", "testing.md")


@dataclass(frozen=True)
class Venv:
    """A venv made without pip; the running interpreter's pip installs into it."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def env(self) -> dict[str, str]:
        drop = ("PYTEST_", "PYTHON", "VIRTUAL_ENV", "AGENTKIT_", "AZURE_OPENAI_", "OPENAI_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        return env

    def pip_install(self, *requirements: str) -> None:
        pip = [sys.executable, "-m", "pip", "--python", str(self.python), "install", "-q"]
        pip.append("--no-compile")  # byte-compiling every dependency is most of an install's time
        done = subprocess.run(
            [*pip, *requirements], capture_output=True, text=True, timeout=INSTALL_TIMEOUT
        )
        assert done.returncode == 0, f"pip install {requirements}:\n{done.stdout}{done.stderr}"

    def run(self, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        env = self.env()
        program = shutil.which(argv[0], path=env["PATH"]) or argv[0]
        return subprocess.run(
            [program, *argv[1:]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )


def make_venv(path: Path) -> Venv:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return Venv(path)


@pytest.fixture(scope="module")
def package_index(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip unless pip can fetch a package (a short probe before the real installs)."""
    dest = tmp_path_factory.mktemp("probe")
    probe = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--dest", str(dest)]
    try:
        done = subprocess.run(
            [*probe, "--retries", "0", "--timeout", "10", "pytest"],
            capture_output=True,
            text=True,
            timeout=6 * TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("no package index reachable (pip download pytest timed out)")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip download failed"])[-1]
        pytest.skip(f"no package index reachable (pip download pytest: {last})")


@pytest.fixture(scope="module")
def wheel(package_index: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout built as a wheel (pip fetches the build backend), once per module."""
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)]
    done = subprocess.run(build, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def bare_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """agentkit and pytest, without the testing extra: what any other project may have."""
    venv = make_venv(tmp_path_factory.mktemp("bare") / "venv")
    venv.pip_install(str(wheel), "pytest")
    return venv


@pytest.fixture(scope="module")
def docs_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    """An empty venv: the docs' own install lines fill it."""
    yield make_venv(tmp_path_factory.mktemp("docs") / "venv")


def test_the_wheel_names_the_distribution_extras_and_plugin(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert wheel.name.startswith("agentkit_realtime-")
    assert f"Name: {DIST}\n" in metadata
    assert {"testing", "web", "dev"} <= set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.M))
    testing = r"^Requires-Dist: pytest-asyncio>=\S+; extra == [\"']testing[\"']$"
    assert re.search(testing, metadata, re.M)
    pytest11 = entry_points.split("[pytest11]")[1]
    assert "agentkit.testing.pytest_plugin = agentkit.testing.pytest_plugin" in pytest11


def test_the_web_extra_allows_no_uvicorn_older_than_the_docs_need(wheel: Path) -> None:
    needed = re.search(r"uvicorn >= (\d+)\.(\d+)", (ROOT / "docs" / "web.md").read_text())
    assert needed is not None, "docs/web.md no longer names the uvicorn it needs"
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
    uvicorn = r"^Requires-Dist: uvicorn>=(\d+)\.(\d+); extra == [\"']web[\"']$"
    bound = re.search(uvicorn, metadata, re.M)
    assert bound is not None, "the web extra has no uvicorn lower bound"
    as_int = (int(bound[1]), int(bound[2]))
    assert as_int >= (int(needed[1]), int(needed[2]))


def test_another_projects_suite_still_passes_without_the_testing_extra(
    bare_venv: Venv, tmp_path: Path
) -> None:
    (tmp_path / "test_theirs.py").write_text("def test_unrelated():\n    assert 1 + 1 == 2\n")
    argv = ["python", "-m", "pytest", "-p", "no:cacheprovider", "-W", "error"]
    done = bare_venv.run(argv, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed in" in done.stdout
    assert "plugins: agentkit-realtime-0.1.0" in done.stdout  # it did load, and harmed nothing


def test_the_simulator_needs_no_extra(bare_venv: Venv, tmp_path: Path) -> None:
    code = "from agentkit.testing import Simulator; import agentkit.cli"
    done = bare_venv.run(["python", "-W", "error", "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr


def test_naming_the_plugin_in_a_conftest_as_well_does_not_crash(
    bare_venv: Venv, tmp_path: Path
) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["agentkit.testing.pytest_plugin"]\n')
    (tmp_path / "test_theirs.py").write_text("def test_unrelated():\n    pass\n")
    done = bare_venv.run(["python", "-m", "pytest", "-p", "no:cacheprovider"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_fixture_without_the_testing_extra_names_the_extra(
    bare_venv: Venv, tmp_path: Path
) -> None:
    (tmp_path / "test_mine.py").write_text("def test_it(realtime_session):\n    pass\n")
    done = bare_venv.run(["python", "-m", "pytest", "-p", "no:cacheprovider"], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'pip install "agentkit-realtime[testing]"' in done.stdout


@dataclass
class Page:
    files: dict[str, str]
    commands: list[tuple[list[str], list[str]]]  # (argv, the output the page shows)


def read_page(path: Path, wheel: Path) -> Page:
    page = Page({}, [])
    for block in MARKED.finditer(path.read_text(encoding="utf-8")):
        if block["name"]:
            page.files[block["name"]] = block["body"]
        else:
            page.commands += parse_commands(block["body"], block["lang"] == "console", wheel)
    return page


def parse_commands(body: str, prompted: bool, wheel: Path) -> list[tuple[list[str], list[str]]]:
    commands: list[tuple[list[str], list[str]]] = []
    for line in body.splitlines():
        if prompted and not line.startswith("$ "):
            commands[-1][1].append(line)
            continue
        argv = shlex.split(line.removeprefix("$ "), comments=True)
        if not argv or argv[:3] == ["python", "-m", "venv"]:
            continue  # the test made (and "activated") the venv
        if argv[:2] == ["pip", "install"]:
            argv[2:] = [arg.replace(DIST, str(wheel), 1) for arg in argv[2:]]
            assert any(str(wheel) in arg for arg in argv), f"installs no agentkit: {line}"
        commands.append((argv, []))
    return commands


@pytest.mark.parametrize("name", DOC_PAGES)
def test_the_pages_marked_blocks_run_as_written(
    name: str, docs_venv: Venv, wheel: Path, tmp_path: Path
) -> None:
    page = read_page(ROOT / "docs" / name, wheel)
    assert page.files and page.commands, f"docs/{name} marks nothing to check"
    for file_name, text in page.files.items():
        (tmp_path / file_name).write_text(text, encoding="utf-8")
    for argv, shown in page.commands:
        if argv[:2] == ["pip", "install"]:
            docs_venv.pip_install(*argv[2:])
            continue
        done = docs_venv.run(argv, tmp_path)
        assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stdout}{done.stderr}"
        if shown:
            assert done.stdout.splitlines() == shown, shlex.join(argv)
    tests = [n for n in page.files if n.startswith("test_")]
    expected = sum(len(re.findall(r"^(?:async )?def test_", page.files[n], re.M)) for n in tests)
    # With the configuration a page shows, its tests run free of warnings (pytest-asyncio's too).
    strict = ["-W", "error"] if "pyproject.toml" in page.files else []
    done = docs_venv.run(["pytest", "-p", "no:cacheprovider", *strict, *tests], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{expected} passed" in done.stdout
