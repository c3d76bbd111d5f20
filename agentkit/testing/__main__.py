"""``python -m agentkit.testing``: serve the simulator until interrupted.

    python -m agentkit.testing --port 8765 --scenario my_scenario.py --api-key test-key

A scenario file is Python defining ``scenario`` (a :class:`~agentkit.testing.Scenario` or a chain
ending on a turn). ``--cassette FILE.jsonl`` replays a cassette instead. The first line printed is
the URL the simulator listens on.
"""

from __future__ import annotations

import argparse
import asyncio
import runpy
from collections.abc import Sequence

from agentkit.testing.cassette import Cassette
from agentkit.testing.scenario import Scenario, Turn
from agentkit.testing.server import Simulator

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agentkit.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--scenario", help="Python file defining `scenario`")
    parser.add_argument("--cassette", help="JSONL cassette to replay")
    parser.add_argument("--api-key", default="test-key", help="accepted key ('' = no auth)")
    parser.add_argument("--max-session-seconds", type=float, default=None)
    return parser


def load_scenario(path: str) -> Scenario | Turn:
    """Run a scenario file and return its ``scenario`` variable."""
    namespace = runpy.run_path(path)
    scenario = namespace.get("scenario")
    if not isinstance(scenario, (Scenario, Turn)):
        raise SystemExit(f"{path} must define `scenario` (a Scenario)")
    return scenario


async def _serve(simulator: Simulator) -> None:
    async with simulator:
        print(simulator.url, flush=True)
        print(f"  GA:      {simulator.ga_url()}", flush=True)
        print(f"  preview: {simulator.preview_url()}", flush=True)
        print(f"  OpenAI:  {simulator.openai_url()}", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C; returns the exit status."""
    args = _parser().parse_args(argv)
    simulator = Simulator(
        scenario=load_scenario(args.scenario) if args.scenario else None,
        cassette=Cassette.load(args.cassette) if args.cassette else None,
        api_key=args.api_key or None,
        host=args.host,
        port=args.port,
        max_session_seconds=args.max_session_seconds,
    )
    try:
        asyncio.run(_serve(simulator))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
