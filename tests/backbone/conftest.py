"""A network guard for loading tests: any connection beyond this machine is refused and recorded."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "", None}


def _is_local(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it is already reaching out


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse every non-loopback connect and name lookup at the socket level.

    The guard sits below every client (huggingface_hub, httpx, requests, urllib), so it holds
    whatever references transformers keeps to the hub functions and whatever the offline
    environment variables say. Yields the list of attempts; the test asserts it stays empty
    (an attempt is also raised as ``OSError``, which a loader might catch and hide).
    """
    attempts: list[str] = []

    def refuse(what: str, host: object) -> None:
        attempts.append(f"{what} {host!r}")
        raise OSError(f"test guard: network access refused ({what} {host!r})")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo
    real_create_connection = socket.create_connection

    def _host(address: object) -> object:
        return address[0] if isinstance(address, tuple) else address

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_host(address)):
            refuse("connect", _host(address))
        return real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_host(address)):
            refuse("connect_ex", _host(address))
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if not _is_local(host):
            refuse("getaddrinfo", host)
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    def create_connection(address: object, *args: object, **kwargs: object) -> object:
        if not _is_local(_host(address)):
            refuse("create_connection", _host(address))
        return real_create_connection(address, *args, **kwargs)  # type: ignore[arg-type]

    # The offline switches are cleared, so a hub call really goes for the network and meets
    # the guard, instead of being stopped by a setting a user may not have.
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield attempts
