"""The ``agentkit`` command line: ``main(argv=None) -> int``.

Each subcommand is added by its own ``_add_<name>_command`` function and runs through the
``handler`` it sets, so new subcommands (``run``, ``simulate``) slot in without touching others.
Exit codes: 0 success, 1 runtime failure (connection, authentication, the service), 2 usage or
input error (one line on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from agentkit.errors import ToolDefinitionError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agentkit`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="agentkit", description="Function-calling agents on the Realtime API."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_tools_command(commands)
    _add_run_command(commands)
    return parser


def _add_tools_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "tools",
        help="print the tool schemas a Python file defines",
        description="Print, as JSON, the tools list a module's tools send in session.update.",
    )
    command.add_argument("file", help="path to a Python file defining @tool functions")
    command.add_argument("--compact", action="store_true", help="one line, no indentation")
    command.set_defaults(handler=_run_tools)


def _run_tools(args: argparse.Namespace) -> int:
    from agentkit.tools.loader import load_tools  # keep `agentkit --help` fast

    try:
        toolset = load_tools(args.file)
    except FileNotFoundError:
        return _fail(f"no such file: {args.file}")
    except ToolDefinitionError as exc:
        return _fail(f"{args.file}: {exc}")
    except BaseException as exc:  # the user's module may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _fail(f"cannot import {args.file}: {type(exc).__name__}: {exc}")
    if not toolset:
        return _fail(f"no tools found in {args.file} (module-level @tool functions or Toolsets)")
    indent = None if args.compact else 2
    print(json.dumps(toolset.schemas(), indent=indent, ensure_ascii=False))
    return EXIT_OK


RUN_EPILOG = """\
examples:
  agentkit run examples/weather.py --simulate --say "What's the weather in Oslo?"
  agentkit run examples/support.py:agent                   # interactive; /quit or Ctrl-D ends
  agentkit run examples/audio.py --audio-in question.wav --audio-out answer.wav
  agentkit run examples/weather.py --say "Paris?" --record tape.jsonl

The file defines an Agent (`agent`, or the NAME given), and may define `scenario` (what the
simulator answers), `deps` (ToolContext.deps for the tools) and `options` (SessionOptions).
Credentials come from the environment (AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT,
AZURE_OPENAI_API_KEY or Entra ID; OPENAI_API_KEY; AGENTKIT_REALTIME_URL): see docs/azure.md.

exit codes:
  0    the conversation finished
  1    runtime failure: connection, authentication, the service, or no answer in time
  2    usage or input error (bad arguments, missing file, no such agent, bad WAV)
  130  interrupted (Ctrl-C)
"""


def _add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "run",
        help="talk to an agent defined in a Python file",
        description=(
            "Hold a conversation with an agent: streamed assistant text, each tool call as it "
            "starts and ends. With --simulate, or when no credentials are set, it talks to the "
            "built-in simulator scripted by the file's `scenario`."
        ),
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("target", metavar="FILE[:NAME]", help="a Python file, and an Agent name")
    command.add_argument(
        "--say",
        action="append",
        default=[],
        metavar="TEXT",
        help="a user message (repeatable); the run ends when the agent has answered them all",
    )
    command.add_argument(
        "--audio-in",
        metavar="WAV",
        help="speak this WAV file first (8/16-bit, any rate, mono or stereo; converted)",
    )
    command.add_argument(
        "--audio-out", metavar="WAV", help="write the assistant's speech here (24 kHz mono PCM16)"
    )
    command.add_argument(
        "--record", metavar="JSONL", help="record the server events as a cassette for replay"
    )
    command.add_argument("--simulate", action="store_true", help="use the built-in simulator")
    command.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=120.0,
        metavar="SECONDS",
        help="seconds allowed per turn (default 120)",
    )
    command.set_defaults(handler=_run_agent)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _run_agent(args: argparse.Namespace) -> int:
    import asyncio

    from agentkit.errors import AgentkitError
    from agentkit.runner import InputError, RunSettings, run_conversation

    settings = RunSettings(
        target=args.target,
        says=args.say,
        simulate=args.simulate,
        turn_timeout=args.timeout,
        audio_in=args.audio_in,
        audio_out=args.audio_out,
        record=args.record,
    )
    try:
        return asyncio.run(run_conversation(settings))
    except InputError as exc:
        return _fail(str(exc))
    except (AgentkitError, OSError) as exc:
        print(f"agentkit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("agentkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(message: str) -> int:
    print(f"agentkit: error: {message}", file=sys.stderr)
    return EXIT_USAGE
