"""daphne as this project runs it: runall, the local topology (bench/topology), the Docker image and
the live test server all start it from here, with daphne's own command line and options:

    python -m apps.core.webserver -b 0.0.0.0 -p 8000 config.asgi:application

Two things differ from plain `daphne` (docs/protocol.md §3, the transport limit):

- Every websocket message up to TRANSPORT_MAX_BYTES (4 MiB, in one frame or several) reaches the
  application, instead of daphne's 1 MiB: a frame over `max_frame_bytes` (32 KiB) is answered
  with `frame_too_large` (with its `ref`) and the socket stays open.
- A message over that ceiling is refused by the transport with a close frame, code 1009 ("message
  too big", the reason naming the limit), instead of a dropped TCP connection with no word
  (autobahn's `failByDrop`, which daphne leaves on and does not expose). Its payload is discarded
  as it arrives, never held in memory.

No --proxy-headers: the client address is decided by apps.core.proxy (TRUSTED_PROXY_COUNT).

And one for speed: autobahn builds the arguments of its debug log lines before it knows whether
debug is on - coloured type names (`hltype`, `hlval`: click styling) on every frame received and
sent, a `pformat` of the connection's options on every handshake (py-spy: ~12 % of a handshake).
`quiet_autobahn_debug_arguments` makes those helpers hand the value through unformatted (and
`pformat` a plain `repr`); a debug log still shows it, uncoloured.
"""

from __future__ import annotations

import autobahn.twisted.websocket
import autobahn.websocket.protocol
from daphne.cli import CommandLineInterface
from daphne.server import Server

from apps.messaging.protocol import TRANSPORT_MAX_BYTES

# daphne's command line rejects a handshake the application has not accepted within 5 s. In a
# reconnect storm the handshakes queue for the database; every one rejected at 5 s is work
# thrown away and done again by the client's retry, so the storm feeds itself (4,000 sockets did
# not finish in 6 minutes). daphne's own Server default is 20 s.
WEBSOCKET_CONNECT_TIMEOUT = 20


def _as_is(value, *_args, **_kwargs):
    return value


def quiet_autobahn_debug_arguments() -> None:
    for module in (autobahn.websocket.protocol, autobahn.twisted.websocket):
        for name in ("hltype", "hlval"):
            if hasattr(module, name):
                setattr(module, name, _as_is)
    setattr(autobahn.websocket.protocol, "pformat", repr)  # noqa: B010 - Timings.__str__ returns it: a str


quiet_autobahn_debug_arguments()


class KefuServer(Server):
    def __init__(
        self,
        *args,
        websocket_max_message_size: int = TRANSPORT_MAX_BYTES,
        websocket_max_frame_size: int = TRANSPORT_MAX_BYTES,
        ready_callable=None,
        **kwargs,
    ):
        self._then_ready = ready_callable
        super().__init__(
            *args,
            websocket_max_message_size=websocket_max_message_size,
            websocket_max_frame_size=websocket_max_frame_size,
            ready_callable=self._configure_websockets,
            **kwargs,
        )

    def _configure_websockets(self) -> None:
        # Called by Server.run() once its websocket factory exists, before the reactor runs:
        # connections copy the factory's options when they open.
        self.ws_factory.setProtocolOptions(failByDrop=False)
        if self._then_ready is not None:
            self._then_ready()


class KefuCommandLineInterface(CommandLineInterface):
    description = "Kefu's web server: daphne (HTTP + websockets) with the protocol's transport limit"
    server_class = KefuServer

    def __init__(self):
        super().__init__()
        self.parser.set_defaults(
            websocket_max_message_size=TRANSPORT_MAX_BYTES,
            websocket_max_frame_size=TRANSPORT_MAX_BYTES,
            websocket_connect_timeout=WEBSOCKET_CONNECT_TIMEOUT,
        )


if __name__ == "__main__":
    KefuCommandLineInterface.entrypoint()
