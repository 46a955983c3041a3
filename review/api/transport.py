"""uvicorn's HTTP/1.1 protocol with TCP_NODELAY on every connection.

With ``--workers N`` uvicorn binds the listening socket itself as ``socket(family)`` (proto
0), and asyncio only sets TCP_NODELAY on sockets whose proto is IPPROTO_TCP. Without it a
response written in two parts (headers, then body) waits for the client's delayed ACK:
measured here, every keep-alive request took 44-52 ms instead of 2-7 ms.

httptools (a C parser) is used when installed, else h11 (pure Python).
"""

from __future__ import annotations

import socket
from typing import Any

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is in the constraints; h11 is the fallback
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]


class NoDelayProtocol(_Base):  # type: ignore[misc, valid-type]
    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        super().connection_made(transport)
