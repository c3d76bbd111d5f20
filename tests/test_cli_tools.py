"""``agentkit tools FILE``: prints the tool schemas a module defines, exactly as sent."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentkit.cli import main
from tests.support import TIMEOUT

TOOLS_MODULE = '''
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from agentkit.tools import Toolset, tool
from helpers import UNIT


@dataclass
class Place:
    city: str


@tool
def get_weather(place: Place, days: Annotated[int, Field(ge=1, le=14)] = 1) -> str:
    """Forecast for a place.

    Args:
        place: Where.
    """
    return UNIT


def book_table(guests: int) -> str:
    """Book a table."""
    return "ok"


class Agent:
    def __init__(self, tools: Toolset) -> None:
        self.tools = tools


agent = Agent(Toolset([get_weather, book_table]))
extra = Toolset([tool(name="hang_up")(lambda: None)])
'''


def write(tmp_path: Path, source: str, name: str = "my_tools.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture
def module(tmp_path: Path) -> Path:
    write(tmp_path, 'UNIT = "celsius"\n', "helpers.py")  # sibling imports work
    return write(tmp_path, TOOLS_MODULE)


EXPECTED = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Forecast for a place.",
        "parameters": {
            "type": "object",
            "properties": {
                "place": {
                    "description": "Where.",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                    "type": "object",
                },
                "days": {"default": 1, "maximum": 14, "minimum": 1, "type": "integer"},
            },
            "required": ["place"],
        },
    },
    {
        "type": "function",
        "name": "book_table",
        "description": "Book a table.",
        "parameters": {
            "type": "object",
            "properties": {"guests": {"type": "integer"}},
            "required": ["guests"],
        },
    },
    {
        "type": "function",
        "name": "hang_up",
        "description": "",
        "parameters": {"type": "object", "properties": {}},
    },
]


def test_prints_every_tool_once_in_definition_order(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tools", str(module)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == EXPECTED
    assert out.startswith("[\n  {") and err == ""


def test_compact_output(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "--compact", str(module)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out) == EXPECTED


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.py"
    assert main(["tools", str(missing)]) == 2
    assert capsys.readouterr().err == f"agentkit: error: no such file: {missing}\n"


def test_file_that_fails_to_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "import not_a_real_module_xyz\n")
    assert main(["tools", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"agentkit: error: cannot import {path}: ModuleNotFoundError: "
        "No module named 'not_a_real_module_xyz'\n"
    )


def test_file_that_exits_while_importing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "raise SystemExit(3)\n")
    assert main(["tools", str(path)]) == 2
    assert capsys.readouterr().err == f"agentkit: error: cannot import {path}: SystemExit: 3\n"


def test_bad_tool_definition(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = "from agentkit.tools import tool\n\n@tool\ndef f(*xs: int) -> None: ...\n"
    path = write(tmp_path, source)
    assert main(["tools", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"agentkit: error: {path}: cannot make a tool from f(), parameter 'xs'")
    assert err.count("\n") == 1


def test_duplicate_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = """
        from agentkit.tools import tool

        def f() -> None: ...

        a = tool(name="same")(f)
        b = tool(name="same")(f)
    """
    path = write(tmp_path, source)
    assert main(["tools", str(path)]) == 2
    assert "duplicate tool name 'same'" in capsys.readouterr().err


def test_no_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "def not_a_tool() -> None: ...\n")
    assert main(["tools", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"agentkit: error: no tools found in {path} (module-level @tool functions or Toolsets)\n"
    )


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "tools" in capsys.readouterr().err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["tools"])
    assert caught.value.code == 2


def test_python_dash_m_agentkit(module: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "agentkit", "tools", str(module)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 4,
        check=False,
        cwd=Path(__file__).parents[1],
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == EXPECTED


def test_file_colon_name_prints_that_object_s_tools(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tools", f"{module}:agent"]) == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED[:2]
    assert main(["tools", f"{module}:extra", "--compact"]) == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED[2:]


def test_file_colon_name_errors(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", f"{module}:nope"]) == 2
    assert capsys.readouterr().err == f"agentkit: error: {module} has no 'nope'\n"
    assert main(["tools", f"{module}:Place"]) == 2
    assert capsys.readouterr().err == f"agentkit: error: no tools found in {module}:Place\n"
