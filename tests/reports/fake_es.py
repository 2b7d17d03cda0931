"""A local HTTP server speaking the part of the Elasticsearch HTTP API the backend uses.

Index exists/create/delete, _bulk, _search (bool filter term + range, multi_match phrase,
sort, collapse) answered from memory, with the X-Elastic-Product header the real client checks.
Every request is recorded so tests can assert what the client sent (e.g. the tenant filter).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeElasticsearch:
    def __init__(self):
        self.indices: dict[str, dict] = {}
        self.docs: dict[str, dict[str, dict]] = {}
        self.requests: list[tuple[str, str, object]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n).decode() if n else ""

            def _send(self, status, payload=None):
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=9")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_HEAD(self):
                name = self.path.split("?")[0].strip("/")
                fake.requests.append(("HEAD", self.path, None))
                self._send(200 if name in fake.indices else 404)

            def do_GET(self):
                fake.requests.append(("GET", self.path, None))
                if self.path.split("?")[0] == "/":
                    return self._send(
                        200,
                        {
                            "name": "fake",
                            "cluster_name": "fake",
                            "version": {"number": "9.0.0"},
                            "tagline": "You Know, for Search",
                        },
                    )
                self._send(404, {"error": "not found", "status": 404})

            def do_PUT(self):
                name = self.path.split("?")[0].strip("/")
                raw = self._body()
                if name.endswith("_bulk"):
                    fake.requests.append(("PUT", self.path, raw))
                    return self._send(200, fake.bulk(raw))
                body = json.loads(raw or "{}")
                fake.requests.append(("PUT", self.path, body))
                fake.indices[name] = body
                fake.docs.setdefault(name, {})
                self._send(200, {"acknowledged": True, "shards_acknowledged": True, "index": name})

            def do_DELETE(self):
                name = self.path.split("?")[0].strip("/")
                fake.requests.append(("DELETE", self.path, None))
                fake.indices.pop(name, None)
                fake.docs.pop(name, None)
                self._send(200, {"acknowledged": True})

            def do_POST(self):
                path = self.path.split("?")[0]
                raw = self._body()
                if path.endswith("/_bulk"):
                    fake.requests.append(("POST", self.path, raw))
                    return self._send(200, fake.bulk(raw))
                if path.endswith("/_search"):
                    body = json.loads(raw or "{}")
                    fake.requests.append(("POST", self.path, body))
                    return self._send(200, fake.search(path.strip("/").split("/")[0], body))
                fake.requests.append(("POST", self.path, raw))
                self._send(404, {"error": "unsupported", "status": 404})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def bulk(self, raw: str) -> dict:
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        items = []
        i = 0
        while i < len(lines):
            op, meta = next(iter(lines[i].items()))
            index, _id = meta["_index"], str(meta["_id"])
            if op == "delete":
                self.docs.get(index, {}).pop(_id, None)
                i += 1
            else:
                self.docs.setdefault(index, {})[_id] = lines[i + 1]
                i += 2
            items.append({op: {"_index": index, "_id": _id, "status": 201, "result": "created"}})
        return {"took": 1, "errors": False, "items": items}

    def search(self, index: str, body: dict) -> dict:
        bool_q = body.get("query", {}).get("bool", {})
        filters = bool_q.get("filter", [])
        musts = bool_q.get("must", [])
        hits = []
        for _id, doc in self.docs.get(index, {}).items():
            ok = True
            for f in filters:
                if "term" in f:
                    ((field, value),) = f["term"].items()
                    value = value.get("value", value) if isinstance(value, dict) else value
                    ok &= doc.get(field) == value
                if "range" in f:
                    ((field, cond),) = f["range"].items()
                    v = doc.get(field) or ""
                    ok &= (not cond.get("gte") or v[:19] >= cond["gte"][:19]) and (
                        not cond.get("lt") or v[:19] < cond["lt"][:19]
                    )
            for m in musts:
                if "multi_match" in m:
                    ok &= m["multi_match"]["query"].lower() in (doc.get("body") or "").lower()
            if ok:
                hits.append({"_index": index, "_id": _id, "_score": 1.0, "_source": doc})
        for spec in reversed(body.get("sort", [])):  # stable sorts, last key first
            ((field, how),) = spec.items() if isinstance(spec, dict) else [(spec, {"order": "asc"})]
            order = how.get("order", "asc") if isinstance(how, dict) else how
            hits.sort(key=lambda h: h["_source"].get(field) or "", reverse=order == "desc")
        collapse = body.get("collapse", {}).get("field")
        if collapse:
            seen, unique = set(), []
            for h in hits:
                key = h["_source"].get(collapse)
                if key not in seen:
                    seen.add(key)
                    unique.append(h)
            hits = unique
        hits = hits[: body.get("size", 10)]
        return {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0, "hits": hits},
        }
