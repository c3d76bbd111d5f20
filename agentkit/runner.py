"""``agentkit run``: hold a conversation with an agent from a Python file, in a terminal.

With ``--simulate`` the agent talks to the built-in simulator, scripted by the file's
module-level ``scenario``; otherwise to the endpoint that :meth:`Endpoint.from_env` finds, with
``--endpoint`` / ``--deployment`` over the environment. Only when nothing at all is configured
does it fall back to the simulator, with a warning; partial or misspelt settings are an error
(:func:`resolve_endpoint`). Besides ``agent`` (or the ``NAME`` of ``FILE:NAME``), the file
may define ``deps`` (handed to tools as ``ToolContext.deps``) and ``options`` (a
:class:`SessionOptions`).

Text runs ask for text output without turn detection. Audio runs (``--audio-in`` /
``--audio-out``) keep audio output, and with ``--audio-in`` the agent's own turn detection: the
file is streamed in short chunks followed by silence, so server VAD ends the turn (or committed,
when turn detection is off). ``--image`` files are shown to the model first, each as a user
message, before the ``--say`` turns. ``--record`` writes the server events as a cassette that
``agentkit.testing.Cassette.load`` replays. At the end it prints the session's token totals, and
with ``--prices`` (a :class:`~agentkit.usage.PriceTable` file) their estimated cost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from agentkit import audio
from agentkit._redact import redact
from agentkit.agent import Agent
from agentkit.endpoints import Endpoint, configured_variables
from agentkit.errors import (
    AgentkitError,
    ConfigurationError,
    MissingSettingError,
    ToolDefinitionError,
)
from agentkit.events import (
    AudioDelta,
    ErrorOccurred,
    Event,
    HostedToolApprovalAnswered,
    HostedToolCallFinished,
    Interrupted,
    Reconnected,
    Reconnecting,
    ResponseFinished,
    SessionClosed,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
    TranscriptDelta,
    UserTranscript,
)
from agentkit.images import Image, ImageError
from agentkit.models import (
    ModelProfile,
    UnsupportedOptionError,
    check_images,
    check_session_config,
    profile_for,
)
from agentkit.protocol.config import AudioFormat
from agentkit.session import Connector, Session, SessionOptions
from agentkit.tools.loader import load_module
from agentkit.transport import Transport, connect
from agentkit.usage import PriceTable, TokenUsage

__all__ = [
    "CassetteRecorder",
    "InputError",
    "RecordingTransport",
    "RunSettings",
    "Target",
    "load_target",
    "resolve_endpoint",
    "run_conversation",
    "usage_line",
]

logger = logging.getLogger(__name__)

CHUNK_MS = 50
"""Input audio is sent in chunks of this length (the service accepts any size; 20-100 ms is
what a microphone would deliver)."""


class InputError(ValueError):
    """The command line asked for something impossible (exit code 2); the message is one line."""


@dataclass(frozen=True)
class RunSettings:
    """What ``agentkit run`` was asked to do."""

    target: str
    says: Sequence[str] = ()
    simulate: bool = False
    turn_timeout: float = 120.0
    audio_in: str | None = None
    audio_out: str | None = None
    record: str | None = None
    endpoint: str | None = None
    deployment: str | None = None
    allow_insecure: bool = False
    images: Sequence[str] = ()
    model: str | None = None
    prices: str | None = None


@dataclass(frozen=True)
class Target:
    """What a file offers ``agentkit run``: the agent and the module's optional companions."""

    path: str
    agent: Agent
    scenario: Any = None
    deps: Any = None
    options: SessionOptions | None = None


def load_target(target: str) -> Target:
    """Import ``FILE[:NAME]`` and pick its agent.

    Raises:
        InputError: no such file, the file fails to import, no agent of that name, or several
            agents and no name given.
    """
    path, name = _split_target(target)
    namespace = vars(_import(path))
    agent = _pick_agent(path, name, namespace)
    options = namespace.get("options")
    return Target(
        path=path,
        agent=agent,
        scenario=namespace.get("scenario"),
        deps=namespace.get("deps"),
        options=options if isinstance(options, SessionOptions) else None,
    )


def _split_target(target: str) -> tuple[str, str]:
    if len(target) > 2 and target[1] == ":" and target[2] in "\\/":  # C:\agents\x.py
        drive, rest = target[:2], target[2:]
        path, _, name = rest.partition(":")
        return drive + path, name
    path, _, name = target.partition(":")
    return path, name


def _import(path: str) -> Any:
    try:
        return load_module(path)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except ToolDefinitionError as exc:
        raise InputError(f"{path}: {exc}") from exc
    except Exception as exc:
        logger.error("cannot import %s", path, exc_info=exc)  # the traceback, for --verbose
        raise InputError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc


def _pick_agent(path: str, name: str, namespace: dict[str, Any]) -> Agent:
    agents = {key: value for key, value in namespace.items() if isinstance(value, Agent)}
    if name:
        if name not in agents:
            known = f" (it has: {', '.join(agents)})" if agents else ""
            raise InputError(f"{path} has no Agent named {name!r}{known}")
        return agents[name]
    if not agents:
        raise InputError(f"{path} defines no module-level Agent")
    if len(agents) > 1 and "agent" not in agents:
        raise InputError(f"{path} defines several agents ({', '.join(agents)}); name one")
    return agents.get("agent") or next(iter(agents.values()))


async def run_conversation(
    settings: RunSettings,
    out: TextIO | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    mask: Callable[[str], str] = redact,
) -> int:
    """Run the conversation, printing to ``out`` (default: ``sys.stdout``); returns the exit code.

    Args:
        settings: what to run.
        out: where the conversation is printed.
        environ: the variables that configure the endpoint; ``os.environ`` when ``None``.
        mask: applied to every line printed (the CLI masks the secrets it knows).

    Raises:
        InputError: bad input or incomplete settings, found before anything connects.
        AgentkitError: the connection failed or the service did not answer in time.
    """
    out = out or sys.stdout
    target = load_target(settings.target)
    speech = _read_speech(settings.audio_in, target.agent)
    images = [_read_image(path) for path in settings.images]
    for output in (settings.audio_out, settings.record):
        _check_writable(output)
    remote = resolve_endpoint(settings, environ)
    agent = _conversation_agent(target.agent, settings)
    profile = remote.model_profile if remote is not None else profile_for(settings.model)
    _check_model(agent, profile, bool(images))
    options = _priced(target.options, settings.prices, remote.model if remote else settings.model)
    sink = _AudioSink(settings.audio_out, agent.output_audio_format)
    recorder = CassetteRecorder(settings.record) if settings.record else None
    try:
        async with _endpoint(remote, settings, target, out) as endpoint:
            connector = recorder.connector(endpoint) if recorder else None
            session = Session(
                agent, endpoint, deps=target.deps, options=options, connector=connector
            )
            async with session:
                printer = _Printer(out, sink, mask)
                chat = _Conversation(session, printer, settings.turn_timeout)
                await chat.run(speech, settings, images)
            if session.usage.responses:
                out.write(usage_line(session.usage, session.cost) + "\n")
    finally:
        if recorder is not None:
            recorder.close()
        sink.save(out)
    return 0


_FLAGS = {"AZURE_OPENAI_ENDPOINT": "--endpoint", "AZURE_OPENAI_DEPLOYMENT": "--deployment"}


def resolve_endpoint(
    settings: RunSettings, environ: Mapping[str, str] | None = None
) -> Endpoint | None:
    """Where ``agentkit run`` connects; ``None`` means the built-in simulator.

    ``--endpoint`` and ``--deployment`` stand for ``AZURE_OPENAI_ENDPOINT`` and
    ``AZURE_OPENAI_DEPLOYMENT`` (``--endpoint`` also overrides ``AGENTKIT_REALTIME_URL``). The
    simulator is used with ``--simulate``, or when no setting at all is present
    (:func:`~agentkit.endpoints.configured_variables` is empty): a script or CI job with half
    its settings must fail, not get scripted answers and success.

    Raises:
        InputError: settings are incomplete (naming the variable and flag to set) or unusable.
    """
    if settings.simulate:
        return None
    env = dict(os.environ if environ is None else environ)
    if settings.endpoint:
        env.pop("AGENTKIT_REALTIME_URL", None)
        env["AZURE_OPENAI_ENDPOINT"] = settings.endpoint
    elif settings.deployment and env.get("AGENTKIT_REALTIME_URL", "").strip():
        raise InputError("--deployment is for an Azure endpoint, but AGENTKIT_REALTIME_URL is set")
    if settings.deployment:
        env["AZURE_OPENAI_DEPLOYMENT"] = settings.deployment
    given = dict(env)  # --model alone configures no endpoint: the simulator plays the model
    if settings.model:  # the OpenAI model to use, or the model behind a deployment or URL
        env["OPENAI_REALTIME_MODEL"] = env["AZURE_OPENAI_MODEL"] = settings.model
    try:
        return Endpoint.from_env(env, allow_insecure=settings.allow_insecure)
    except MissingSettingError as exc:
        found = configured_variables(given)
        if not found:
            return None
        raise InputError(_incomplete(exc, found)) from exc
    except ConfigurationError as exc:
        raise InputError(str(exc)) from exc


def _incomplete(exc: MissingSettingError, found: list[str]) -> str:
    message = str(exc)
    if flag := _FLAGS.get(exc.setting):
        message = message.replace(exc.setting, f"{exc.setting} (or {flag})", 1)
    verb = "is" if len(found) == 1 else "are"
    return (
        f"{message}; not falling back to the simulator, since {', '.join(found)} {verb} set "
        "(--simulate uses it on purpose)"
    )


def _conversation_agent(agent: Agent, settings: RunSettings) -> Agent:
    """Text runs: text out, no VAD. Audio runs keep audio out; audio in keeps the agent's VAD."""
    if settings.audio_in:
        return agent.with_changes(modality="audio")
    if settings.audio_out:
        return agent.with_changes(modality="audio", turn_detection=None)
    return agent.with_changes(modality="text", turn_detection=None)


def _read_speech(path: str | None, agent: Agent) -> bytes | None:
    if path is None:
        return None
    try:
        clip = audio.read_wav(path)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except (OSError, ValueError) as exc:
        raise InputError(str(exc)) from exc
    if not clip.data:
        raise InputError(f"{path}: the file holds no audio")
    return audio.to_session_format(clip, agent.input_audio_format)


def _read_image(path: str) -> Image:
    try:
        return Image.from_path(path)
    except ImageError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            raise InputError(f"no such file: {path}") from None
        raise InputError(str(exc)) from exc


def _check_model(agent: Agent, profile: ModelProfile | None, images: bool) -> None:
    """Options the model does not take are a usage error, found before anything connects."""
    try:
        check_session_config(agent.session_config(), profile)
        if images:
            check_images(profile)
    except UnsupportedOptionError as exc:
        raise InputError(str(exc)) from exc


def _priced(
    options: SessionOptions | None, path: str | None, model: str | None
) -> SessionOptions | None:
    """The file's options with ``--prices``: the rates of the endpoint's model, or an error
    before anything connects (a model is never guessed)."""
    if path is None:
        return options
    try:
        table = PriceTable.load(path)
        if not model:
            listed = ", ".join(table.models)
            raise InputError(
                f"--prices: the endpoint does not name its model; say which with --model NAME "
                f"(the table lists {listed})"
            )
        prices = table.for_model(model)
    except ConfigurationError as exc:
        raise InputError(f"--prices: {exc}") from exc
    return replace(options or SessionOptions(), prices=prices)


def usage_line(usage: TokenUsage, cost: float | None) -> str:
    """``[agentkit] usage: 2 responses, 1,234 tokens in (312 cached), 56 out; estimated cost
    $0.001234``, what ``agentkit run`` prints at the end (the cost only with prices)."""
    responses = "1 response" if usage.responses == 1 else f"{usage.responses:,} responses"
    line = (
        f"[agentkit] usage: {responses}, {usage.input_tokens:,} tokens in "
        f"({usage.cached_tokens:,} cached), {usage.output_tokens:,} out"
    )
    if cost is not None:
        line += f"; estimated cost ${cost:,.2f}" if cost >= 1 else f"; estimated cost ${cost:.6f}"
    return line


def _check_writable(path: str | None) -> None:
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{path} is a directory")
    if not target.parent.is_dir():
        raise InputError(f"no such directory: {target.parent}")


@asynccontextmanager
async def _endpoint(
    remote: Endpoint | None, settings: RunSettings, target: Target, out: TextIO
) -> AsyncIterator[Endpoint]:
    if remote is not None:
        out.write(f"[agentkit] connecting to {remote.redacted_url}\n")
        yield remote
        return
    if not settings.simulate:
        sys.stderr.write(
            "agentkit: warning: no endpoint is configured (AZURE_OPENAI_ENDPOINT, OPENAI_API_KEY "
            "and AGENTKIT_REALTIME_URL are unset): the built-in SIMULATOR answers, from "
            f"{target.path}'s scenario. Pass --simulate to ask for it, or --endpoint and "
            "--deployment for a real model.\n"
        )
    try:
        from agentkit.testing import Simulator  # only needed offline
    except ImportError as exc:
        install = 'pip install "agentkit-realtime[testing]"'
        raise InputError(f"the simulator needs the testing extra: {install} ({exc})") from exc
    if target.scenario is None:
        out.write(f"[agentkit] {target.path} defines no `scenario`; the simulator improvises\n")
    async with Simulator(target.scenario) as simulator:
        out.write(f"[agentkit] simulator listening on {simulator.url}\n")
        # --model: the simulator plays that model (on its OpenAI route, where model= is one)
        model = settings.model
        url = simulator.openai_url(model) if model else simulator.ga_url(model="simulated")
        yield Endpoint.custom(url, credential=simulator.api_key)


class _Conversation:
    """Sends the user's turns and prints everything until the agent has nothing left to do."""

    def __init__(self, session: Session, printer: _Printer, timeout: float) -> None:
        self.session = session
        self.printer = printer
        self.timeout = timeout
        self.events = session.events()

    async def run(
        self, speech: bytes | None, settings: RunSettings, images: Sequence[Image] = ()
    ) -> None:
        for image in images:
            self.printer.line(f"you: [image {image.source}, {len(image.data) / 1024:.0f} KiB]")
            await self.session.send_image(image, respond=False)
        if speech is not None:
            await self.speak(speech, settings.audio_in or "audio")
        for text in settings.says:
            await self.say(text)
        if speech is None and not settings.says:
            await self.interactive()
        self.printer.end()

    async def say(self, text: str) -> None:
        self.printer.line(f"you: {text}")
        await self.session.send_text(text)
        await self.until_idle()

    async def speak(self, pcm: bytes, name: str) -> None:
        """Stream the clip; then silence for server VAD, or commit when turn detection is off."""
        agent = self.session.agent
        rate = _bytes_per_ms(agent.input_audio_format)
        self.printer.line(f"you: [audio {name}, {len(pcm) / rate / 1000:.1f} s]")
        detection = agent.turn_detection_config
        tail = b""
        if detection is not None:
            silence_ms = detection.silence_duration_ms or 500
            if detection.type == "semantic_vad":
                silence_ms = max(silence_ms, 3000)
            tail = _silence(agent.input_audio_format, silence_ms + 500)
        step = CHUNK_MS * rate
        clip = pcm + tail
        for start in range(0, len(clip), step):
            await self.session.send_audio(clip[start : start + step])
        if detection is None:
            await self.session.commit_audio(respond=True)
        await self.until_idle()

    async def interactive(self) -> None:
        lines = _StdinLines()
        echo = not sys.stdin.isatty()  # piped input: show what was said, like --say does
        while True:
            self.printer.prompt("you: ")
            text = await lines.next()
            if text is None:  # end of input (Ctrl-D)
                self.printer.line("")
                return
            if echo:
                self.printer.line(text)
            if text.strip() in ("/quit", "/exit"):
                return
            if text.strip():
                await self.session.send_text(text)
                await self.until_idle()

    async def until_idle(self) -> None:
        async def watch() -> None:
            async for event in self.events:
                self.printer.show(event)
                if isinstance(event, SessionClosed):
                    raise AgentkitError(f"the session closed: {event.reason or event.code}")
                if isinstance(event, ResponseFinished) and self.session.idle:
                    return

        try:
            await asyncio.wait_for(watch(), self.timeout)
        except asyncio.TimeoutError:
            raise AgentkitError(f"no complete answer within {self.timeout:g} s") from None


def _bytes_per_ms(audio_format: AudioFormat) -> int:
    return 48 if audio_format == "pcm16" else 8


def _silence(audio_format: AudioFormat, ms: int) -> bytes:
    return audio.to_session_format(audio.Pcm(bytes(ms * 48)), audio_format)


class _StdinLines:
    """Lines typed at the terminal, read by a daemon thread.

    A daemon thread, not ``asyncio.to_thread``: a thread blocked in ``input()`` would keep
    ``asyncio.run`` from returning after Ctrl-C until the user pressed Enter.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._read, name="agentkit-stdin", daemon=True).start()

    def _read(self) -> None:
        while True:
            line = sys.stdin.readline()
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line or None)
            if not line:
                return

    async def next(self) -> str | None:
        line = await self._lines.get()
        return None if line is None else line.rstrip("\n")


class _AudioSink:
    """Collects the assistant's audio for ``--audio-out`` and writes it as 24 kHz mono PCM16."""

    def __init__(self, path: str | None, audio_format: AudioFormat) -> None:
        self.path = path
        self.audio_format = audio_format
        self.chunks: list[bytes] = []

    def add(self, event: AudioDelta) -> None:
        if self.path is not None:
            self.chunks.append(event.audio())

    def save(self, out: TextIO) -> None:
        if self.path is None:
            return
        pcm = audio.from_session_format(b"".join(self.chunks), self.audio_format)
        audio.write_wav(self.path, pcm)
        out.write(f"[agentkit] wrote {len(pcm) / 48_000:.1f} s of audio to {self.path}\n")


class _Printer:
    """Streams assistant text and shows each tool call as it starts and ends."""

    def __init__(self, out: TextIO, sink: _AudioSink, mask: Callable[[str], str] = redact) -> None:
        self.out = out
        self.sink = sink
        self.mask = mask
        self.speaking = False

    def line(self, text: str) -> None:
        self._end_line()
        self.out.write(self.mask(text) + "\n")
        self.out.flush()

    def prompt(self, text: str) -> None:
        self._end_line()
        self.out.write(text)
        self.out.flush()

    def show(self, event: Event) -> None:
        if isinstance(event, AudioDelta):
            self.sink.add(event)
        elif isinstance(event, TranscriptDelta):
            if not self.speaking:
                self.out.write("assistant: ")
                self.speaking = True
            self.out.write(self.mask(event.delta))
            self.out.flush()
        else:
            description = _describe(event)
            if description is not None:
                self.line(description)

    def end(self) -> None:
        self._end_line()
        self.out.flush()

    def _end_line(self) -> None:
        if self.speaking:
            self.out.write("\n")
            self.speaking = False


def _describe(event: Event) -> str | None:
    if isinstance(event, ToolCallStarted):
        return f"  -> {event.name}({event.arguments})"
    if isinstance(event, ToolCallFinished):
        took = f"{event.duration_s * 1000:.0f} ms"
        if event.is_error:
            return f"  !! {event.name} failed ({event.error_type}, {took}): {event.output}"
        return f"  <- {event.name} ({took}): {event.output}"
    if isinstance(event, ToolProgress):
        return f"  .. {event.name}: {event.message}"
    if isinstance(event, UserTranscript):
        return f"you (heard): {event.text}"
    if isinstance(event, Interrupted):
        return "  [interrupted]"
    if isinstance(event, ErrorOccurred):
        return f"  [error] {event.code or event.error_type}: {event.message}"
    if isinstance(event, Reconnecting):
        return f"  [reconnecting, attempt {event.attempt}: {event.reason}]"
    if isinstance(event, Reconnected):
        return f"  [reconnected: {event.restored_items} items restored]"
    return _describe_hosted(event)


def _describe_hosted(event: Event) -> str | None:
    """What the service did with a hosted MCP server (it calls the tools, not agentkit)."""
    if isinstance(event, HostedToolCallFinished):
        tool = f"{event.server_label}.{event.name}"
        if event.error is not None:
            return f"  !! {tool} failed (hosted): {event.error.get('message')}"
        return f"  <- {tool}({event.arguments}) (hosted): {event.output}"
    if isinstance(event, HostedToolApprovalAnswered):
        verdict = "approved" if event.approved else f"denied: {event.reason}"
        return f"  ?? {event.server_label}.{event.name} {verdict}"
    return None


# -- recording -----------------------------------------------------------------------------


class CassetteRecorder:
    """Writes what one connection exchanged as a cassette (see :mod:`agentkit.testing.cassette`).

    Every server event is written as received (string values passed through
    :func:`~agentkit._redact.redact`, though server events carry no credentials); each client
    event leaves an ``{"expect": "<type>"}`` marker, so a replay waits for the client exactly
    where the recorded service did. Only the first connection is recorded: a cassette replays
    one connection, from its beginning.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.connections = 0
        self._file: TextIO | None = self.path.open("w", encoding="utf-8", buffering=1)
        self._file.write("# recorded by `agentkit run --record`; replay with Cassette.load()\n")

    def connector(self, endpoint: Endpoint) -> Connector:
        """A session connector that records the first transport it opens."""

        async def open_transport() -> Transport:
            transport: Transport = await connect(endpoint)
            self.connections += 1
            return RecordingTransport(transport, self) if self.connections == 1 else transport

        return open_transport

    def client_sent(self, frame: str) -> None:
        try:
            event_type = json.loads(frame).get("type")
        except (ValueError, AttributeError):
            return
        self._write({"expect": str(event_type)})

    def server_sent(self, frame: str | bytes) -> None:
        try:
            event = json.loads(frame)
        except ValueError:
            return
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            self._write(_redacted(event))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, entry: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


class RecordingTransport:
    """A :class:`~agentkit.transport.Transport` that tells a recorder every frame it moves."""

    def __init__(self, inner: Transport, recorder: CassetteRecorder) -> None:
        self.inner = inner
        self.recorder = recorder

    async def send(self, data: str) -> None:
        self.recorder.client_sent(data)
        await self.inner.send(data)

    async def recv(self) -> str | bytes:
        frame = await self.inner.recv()
        self.recorder.server_sent(frame)
        return frame

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[str | bytes]:
        async for frame in self.inner:
            self.recorder.server_sent(frame)
            yield frame

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.inner.close(code, reason)

    @property
    def closed(self) -> bool:
        return self.inner.closed

    @property
    def close_code(self) -> int | None:
        return getattr(self.inner, "close_code", None)

    @property
    def close_reason(self) -> str | None:
        return getattr(self.inner, "close_reason", None)
