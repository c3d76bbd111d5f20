"""The README's example runs as written, against the simulator (through the environment)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from agentkit.testing import Simulator
from agentkit.tools.loader import load_module
from tests.support import TIMEOUT

ROOT = Path(__file__).resolve().parent.parent


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match is not None, "the README has no python example"
    return match.group(1)


async def test_the_readme_example_answers_and_exits(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_readme_example(), encoding="utf-8")
    scenario = load_module(ROOT / "examples" / "weather.py").scenario
    async with Simulator(scenario) as sim:
        env = {
            **os.environ,
            "AGENTKIT_REALTIME_URL": sim.ga_url(model="gpt-realtime"),
            "AZURE_OPENAI_API_KEY": str(sim.api_key),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(process.communicate(), 4 * TIMEOUT)
    assert process.returncode == 0
    assert out.decode() == "It is 4 degrees and overcast in Oslo.\n"
    assert len(_readme_example().strip().splitlines()) <= 20
