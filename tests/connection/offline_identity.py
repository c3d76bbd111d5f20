"""An environment where azure-identity has no sign-in to find, and no way off this machine.

``DefaultAzureCredential`` would probe the managed-identity endpoint (169.254.169.254) and run
``az``, ``pwsh`` and ``azd``. Here every credential in its chain is unavailable at once: no
``AZURE_*`` or managed-identity variables, ``AZURE_TOKEN_CREDENTIALS=dev`` (which drops the
environment, workload and managed identities from the chain), an empty ``HOME`` (no token
cache) and an empty ``PATH`` (no CLIs). A guard refuses, and records, any connection or name
lookup that is not loopback, so a test can assert that none was tried.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

IDENTITY_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET")

GUARD_SOURCE = """
import ipaddress, socket, sys

def _loopback(host):
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return str(host) in ("localhost", "")

def _guard(original):
    def guarded(self, address, *rest):
        if isinstance(address, tuple) and not _loopback(address[0]):
            print(f"NETWORK ATTEMPT: {address[0]}", file=sys.stderr)
            raise OSError(f"test guard: no traffic to {address[0]}")
        return original(self, address, *rest)
    return guarded

socket.socket.connect = _guard(socket.socket.connect)
socket.socket.connect_ex = _guard(socket.socket.connect_ex)
_getaddrinfo = socket.getaddrinfo

def _lookup(host, *rest, **options):
    if host is not None and not _loopback(host.decode() if isinstance(host, bytes) else host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            print(f"NETWORK ATTEMPT: lookup {host}", file=sys.stderr)
            raise socket.gaierror(f"test guard: no name lookups ({host})") from None
    return _getaddrinfo(host, *rest, **options)

socket.getaddrinfo = _lookup
"""
"""The same guard as source, for a subprocess (``python -c GUARD_SOURCE + ...``)."""


def offline_environment(tmp_path: Path) -> dict[str, str]:
    """The variables to run a child process with (nothing inherited but what Python needs)."""
    home, tools = tmp_path / "home", tmp_path / "no-tools"
    home.mkdir(exist_ok=True)
    tools.mkdir(exist_ok=True)
    keep = {name: os.environ[name] for name in ("SYSTEMROOT", "LANG") if name in os.environ}
    return keep | {
        "HOME": str(home),
        "PATH": str(tools),
        "AZURE_TOKEN_CREDENTIALS": "dev",
        "AZURE_CONFIG_DIR": str(home / ".azure"),
    }


def make_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Make this process offline for azure-identity; returns the list of refused addresses."""
    for name in list(os.environ):
        if (
            name.startswith(("AZURE_", "OPENAI_", "AGENTKIT_REALTIME"))
            or name in IDENTITY_VARIABLES
        ):
            monkeypatch.delenv(name)
    for name, value in offline_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    attempts: list[str] = []
    for method in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, method, _guard(getattr(socket.socket, method), attempts))
    monkeypatch.setattr(socket, "getaddrinfo", _lookup_guard(socket.getaddrinfo, attempts))
    return attempts


def _lookup_guard(original: Callable[..., Any], attempts: list[str]) -> Callable[..., Any]:
    """Name lookups leave the machine (DNS) unless the name is loopback or an IP literal."""

    def guarded(host: Any, *rest: Any, **options: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not _is_loopback(name) and not _is_ip(name):
            attempts.append(f"lookup {name}")
            raise socket.gaierror(f"test guard: no name lookups ({name})")
        return original(host, *rest, **options)

    return guarded


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _guard(original: Callable[..., Any], attempts: list[str]) -> Callable[..., Any]:
    def guarded(self: socket.socket, address: Any, *rest: Any) -> Any:
        if isinstance(address, tuple) and not _is_loopback(str(address[0])):
            attempts.append(str(address[0]))
            raise OSError(f"test guard: no traffic to {address[0]}")
        return original(self, address, *rest)

    return guarded


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host in ("localhost", "")
