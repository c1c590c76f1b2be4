"""A TCP relay: the one way in to a serving container that runs with no network route out.

Buyers' containers run with network isolation: they can open no connection at all
(https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html). Locally smbyo puts the
serving container alone on a Docker network made ``--internal``, which has no route out; Docker publishes
no port of a container on such a network, so the host could not reach it either. This relay runs in a
second container, attached both to Docker's default bridge (its port published on 127.0.0.1) and to the
internal network, and copies bytes between each client and the serving container's port 8080. It only
answers connections; the serving container cannot use it to go anywhere else.

smbyo runs this file's source with the serving image's own ``python3 -c`` (every smbyo image has it), so
it works with images built before it existed. It must therefore stay one self-contained script of the
standard library: no imports from ``sm_byo`` nor from the rest of the runtime.

Each connection gets two threads, one per direction, copying up to 256 KB at a time: concurrent clients
(a transform's workers, a load test) and large bodies (100 MB transform payloads) go through without
buffering a whole body. When one side ends its stream the other is told (a half-close), so an HTTP
exchange ends exactly as it would without the relay.

Usage: ``python3 -c SOURCE TARGET_HOST TARGET_PORT LISTEN_PORT``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from typing import Any

CHUNK_BYTES = 256 * 1024
BACKLOG = 4096
CONNECT_TIMEOUT_SECONDS = 5.0


def _copy(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until ``source`` ends, then end ``sink``'s stream (the other side reads EOF)."""
    try:
        while True:
            data = source.recv(CHUNK_BYTES)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass  # a reset or a closed socket: the other direction ends too, below
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _nodelay(sock: socket.socket) -> None:
    """No Nagle delay: a /ping must cross the relay as fast as it crosses a published port."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def relay_connection(client: socket.socket, target: tuple[str, int]) -> None:
    """Join one client to the target until both directions have ended. A target that does not answer
    (the model server not listening yet) closes the client's connection: it sees what a closed port shows."""
    try:
        upstream = socket.create_connection(target, timeout=CONNECT_TIMEOUT_SECONDS)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    _nodelay(client)
    _nodelay(upstream)
    back = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
    back.start()
    _copy(client, upstream)
    back.join()
    for sock in (client, upstream):
        sock.close()


def _stop(_signum: int, _frame: Any) -> None:
    """SIGTERM (``docker stop``) ends the relay at once: as PID 1 it would otherwise ignore the signal."""
    raise SystemExit(0)


def serve(target: tuple[str, int], port: int) -> None:
    """Accept on every address of this container's ``port`` and relay each connection to ``target``."""
    server = socket.create_server(("", port), backlog=BACKLOG)
    while True:
        client, _ = server.accept()
        threading.Thread(target=relay_connection, args=(client, target), daemon=True).start()


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    host, target_port, port = argv[1], int(argv[2]), int(argv[3])
    print(f"relay: 0.0.0.0:{port} -> {host}:{target_port}", file=sys.stderr, flush=True)
    serve((host, target_port), port)


if __name__ == "__main__":
    main(sys.argv)
