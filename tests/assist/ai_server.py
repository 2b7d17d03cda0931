"""A local stand-in for a tenant's AI provider: a real HTTP server on 127.0.0.1 speaking the
OpenAI chat-completions contract (POST /v1/chat/completions). It records every request body, so
tests can check what left the system, and can be told to be slow or to fail."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatCompletionsServer:
    def __init__(self):
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.reply = "客户询问退货进度，已提供运单号，待确认退款时间。"
        self.status = 200
        self.delay = 0.0
        self.usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with server._lock:
                    server.headers.append(dict(self.headers))
                    try:
                        server.requests.append(json.loads(raw))
                    except ValueError:
                        server.requests.append({"raw": raw.decode("utf-8", "replace")})
                if server.delay:
                    time.sleep(server.delay)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "Unknown path", "type": "invalid_request_error"}})
                if server.status != 200:
                    return self._send(
                        server.status, {"error": {"message": "The server had an error", "type": "server_error"}}
                    )
                body = server.requests[-1]
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": 1764374400,
                        "model": body.get("model", ""),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": server.reply},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": server.usage,
                    },
                )

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def bodies_text(self) -> str:
        return json.dumps(self.requests, ensure_ascii=False)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
