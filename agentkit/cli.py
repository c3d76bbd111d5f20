"""The ``agentkit`` command line: ``main(argv=None) -> int``.

Each subcommand is added by its own ``_add_<name>_command`` function and runs through the
``handler`` it sets, so new subcommands slot in without touching others. Exit codes: 0 success,
1 runtime failure (connection, authentication, the service), 2 usage or input error (one line on
stderr), 130 interrupted. Everything written to stderr, tracebacks included, is masked: the
values of the credential variables and anything else shaped like a credential show as ``***``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from agentkit._redact import Masker
from agentkit.errors import CredentialError, ToolDefinitionError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

LOG_LEVELS = ("debug", "info", "warning", "error")
SECRET_VARIABLES = (
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_KEY",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_PASSWORD",
)
"""Variables whose values are masked in everything the command prints."""

logger = logging.getLogger("agentkit.cli")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agentkit`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    command: argparse.ArgumentParser = getattr(args, "command_parser", parser)
    if extras:  # reported by the subcommand, with its usage, not the top-level one
        command.error(_unrecognized(command, extras))
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.mask = Masker(os.environ.get(name, "") for name in SECRET_VARIABLES)
    try:
        args.log_level = _log_level(args.log_level, args.verbose)
    except ValueError as exc:
        return _fail(str(exc), args.mask)
    with _logging(args.log_level, args.mask):
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


def _unrecognized(command: argparse.ArgumentParser, extras: list[str]) -> str:
    known = [option for action in command._actions for option in action.option_strings]
    message = f"unrecognized arguments: {' '.join(extras)}"
    for extra in extras:
        guess = difflib.get_close_matches(extra.partition("=")[0], known, n=1, cutoff=0.6)
        if extra.startswith("-") and guess:
            return f"{message} (did you mean {guess[0]}?)"
    return message


def _add_logging_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show agentkit's debug log and full tracebacks (same as --log-level debug)",
    )
    command.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.lower,
        help="show agentkit's log from this level on (default: the AGENTKIT_LOG variable, or off)",
    )


def _log_level(flag: str | None, verbose: bool) -> int | None:
    """The level from ``--log-level``, ``--verbose`` or ``AGENTKIT_LOG``; ``None``: no log."""
    name = flag or ("debug" if verbose else os.environ.get("AGENTKIT_LOG", "").strip().lower())
    if name in ("1", "true", "yes", "on"):
        name = "debug"
    if not name or name in ("0", "false", "no", "off"):
        return None
    if name not in LOG_LEVELS:
        raise ValueError(f"AGENTKIT_LOG={name!r} is not one of {', '.join(LOG_LEVELS)}")
    level: int = getattr(logging, name.upper())
    return level


@contextmanager
def _logging(level: int | None, mask: Masker) -> Iterator[None]:
    """Show agentkit's and azure-identity's log on stderr, masked, or neither.

    Without a level, azure-identity's warnings (a dozen lines when no sign-in is found) would
    reach stderr through Python's last-resort handler; agentkit's own message says it in one.
    The simulator's wire dump stays out of the debug log: it would repeat every frame.
    """
    handler: logging.Handler = logging.NullHandler()
    levels: dict[str, int] = {}
    if level is not None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_MaskingFormatter(mask))
        levels = {"agentkit": level, "azure": level, "agentkit.testing": max(level, logging.INFO)}
    roots = [logging.getLogger(name) for name in ("agentkit", "azure")]
    saved = {name: logging.getLogger(name).level for name in levels}
    for root in roots:
        root.addHandler(handler)
    for name, new_level in levels.items():
        logging.getLogger(name).setLevel(new_level)
    try:
        yield
    finally:
        for root in roots:
            root.removeHandler(handler)
        for name, old_level in saved.items():
            logging.getLogger(name).setLevel(old_level)


class _MaskingFormatter(logging.Formatter):
    """Formats a record with its traceback, then masks the whole text."""

    def __init__(self, mask: Masker) -> None:
        super().__init__("agentkit: %(levelname)s %(name)s: %(message)s")
        self.mask = mask

    def format(self, record: logging.LogRecord) -> str:
        return self.mask(super().format(record))


def _add_tools_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "tools",
        help="print the tool schemas a Python file defines",
        description=(
            "Print, as JSON, the tools list a module's tools send in session.update: every "
            "module-level tool, Toolset and agent's tools, or those of NAME only."
        ),
    )
    command.add_argument(
        "file", metavar="FILE[:NAME]", help="a Python file defining tools, and an agent's name"
    )
    command.add_argument("--compact", action="store_true", help="one line, no indentation")
    _add_logging_options(command)
    command.set_defaults(handler=_run_tools, command_parser=command)


def _run_tools(args: argparse.Namespace) -> int:
    from agentkit.runner import _split_target  # keep `agentkit --help` fast
    from agentkit.tools.loader import collect_tools, load_module

    path, name = _split_target(args.file)
    try:
        namespace = vars(load_module(path))
        if name and name not in namespace:
            return _fail(f"{path} has no {name!r}", args.mask)
        toolset = collect_tools({name: namespace[name]} if name else namespace)
    except FileNotFoundError:
        return _fail(f"no such file: {path}", args.mask)
    except ToolDefinitionError as exc:
        return _fail(f"{path}: {exc}", args.mask)
    except BaseException as exc:  # the user's module may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        logger.error("cannot import %s", path, exc_info=exc)
        return _fail(f"cannot import {path}: {type(exc).__name__}: {exc}", args.mask)
    if not toolset:
        where = args.file if name else f"{path} (module-level @tool functions or Toolsets)"
        return _fail(f"no tools found in {where}", args.mask)
    indent = None if args.compact else 2
    print(json.dumps(toolset.schemas(), indent=indent, ensure_ascii=False))
    return EXIT_OK


RUN_EPILOG = """\
examples:
  agentkit run examples/weather.py --simulate --say "What's the weather in Oslo?"
  agentkit run examples/support.py:agent                   # interactive; /quit or Ctrl-D ends
  agentkit run examples/voice.py --audio-in question.wav --audio-out answer.wav
  agentkit run examples/weather.py --say "Paris?" --record tape.jsonl
  agentkit run examples/weather.py --image sky.png --say "Will it rain, by the look of it?"
  agentkit run examples/weather.py --endpoint https://RES.openai.azure.com --deployment gpt-realtime

The file defines an Agent (`agent`, or the NAME given), and may define `scenario` (what the
simulator answers), `deps` (ToolContext.deps for the tools) and `options` (SessionOptions).

where it connects:
  --endpoint/--deployment, else the environment: AGENTKIT_REALTIME_URL; AZURE_OPENAI_ENDPOINT
  and AZURE_OPENAI_DEPLOYMENT with AZURE_OPENAI_API_KEY or Entra ID (az login, managed
  identity); or OPENAI_API_KEY. With none of these set, and no misspelt look-alike, it warns
  and uses the simulator; settings only partly set are an error naming what is missing.
  --simulate always uses the simulator. See docs/azure.md.

exit codes:
  0    the conversation finished
  1    runtime failure: connection, authentication, the service, or no answer in time
  2    usage or input error (bad arguments, missing file or setting, no such agent, bad WAV)
  130  interrupted (Ctrl-C)
"""


def _add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "run",
        help="talk to an agent defined in a Python file",
        description=(
            "Hold a conversation with an agent: streamed assistant text, each tool call as it "
            "starts and ends. With --simulate it talks to the built-in simulator scripted by "
            "the file's `scenario`."
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
        "--image",
        action="append",
        default=[],
        metavar="FILE",
        help="show the model this PNG or JPEG first (repeatable; at most 5 MiB each)",
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
    command.add_argument(
        "--simulate", action="store_true", help="use the built-in simulator, whatever is set"
    )
    command.add_argument(
        "--endpoint",
        metavar="URL",
        help="the Azure resource URL, https://RES.openai.azure.com (over AZURE_OPENAI_ENDPOINT)",
    )
    command.add_argument(
        "--deployment",
        metavar="NAME",
        help="the realtime deployment (over AZURE_OPENAI_DEPLOYMENT)",
    )
    command.add_argument(
        "--model",
        metavar="NAME",
        help="the model: OpenAI's to use (over OPENAI_REALTIME_MODEL), the one behind the Azure "
        "deployment (over AZURE_OPENAI_MODEL), or the one the simulator plays; options it "
        "does not take fail before connecting",
    )
    command.add_argument(
        "--prices",
        metavar="FILE.json",
        help="a price table ({MODEL: {input_text: USD per 1M tokens, ...}}, see docs/cost.md): "
        "the usage line at the end shows the estimated cost at the rates of the model",
    )
    command.add_argument(
        "--allow-insecure",
        action="store_true",
        help="allow http:// and ws:// to a host other than this machine (credentials in clear)",
    )
    command.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=120.0,
        metavar="SECONDS",
        help="seconds allowed per turn (default 120)",
    )
    _add_logging_options(command)
    command.set_defaults(handler=_run_agent, command_parser=command)


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
        endpoint=args.endpoint,
        deployment=args.deployment,
        allow_insecure=args.allow_insecure,
        images=args.image,
        model=args.model,
        prices=args.prices,
    )
    try:
        return asyncio.run(run_conversation(settings, mask=args.mask))
    except InputError as exc:
        return _fail(str(exc), args.mask)
    except (AgentkitError, OSError) as exc:
        logger.error("the run failed", exc_info=exc)  # the traceback, with a log level
        message = f"agentkit: {type(exc).__name__}: {exc}"
        if isinstance(exc, CredentialError) and args.log_level is None:
            message += " (--verbose shows what each credential answered)"
        print(args.mask(message), file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("agentkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(message: str, mask: Callable[[str], str]) -> int:
    line = f"agentkit: error: {message}"
    print(mask(line), file=sys.stderr)
    return EXIT_USAGE
