"""A local server speaking WeChat Customer Service's HTTP contract (WeCom kf API), and a sender that
posts callbacks the way WeCom does, encrypted with wechatpy's WeCom crypto.

Request and response shapes follow the official documentation (developer.work.weixin.qq.com):
gettoken (91039), kf/sync_msg (94670), kf/send_msg (94677), kf/send_msg_on_event (95122),
kf/service_state/get|trans (94669), kf/customer/batchget (95159), media/upload (90253), media/get
(90254). The server keeps the platform's state: the message log and cursors, valid access tokens
and callback tokens, each customer's session state and reply quota.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

CORP_ID = "ww0123456789abcdef"
KF_SECRET = "kf-secret-0123456789"
KF_TOKEN = "wecom-kf-token"
KF_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
OPEN_KFID = "wkAJ2GCAAAtest0001"

# Allowed service_state changes (94669: 0 → 1/2/3/4, 1 → 2/3/4, 2 → 3/4, 3 → 3/4; 4 only by the customer).
TRANSITIONS = {0: {1, 2, 3, 4}, 1: {2, 3, 4}, 2: {3, 4}, 3: {3, 4}, 4: set()}
SEND_TYPES = {"text", "image", "voice", "video", "file", "link", "miniprogram", "msgmenu", "location"}


class WeComState:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.callback_tokens: set[str] = set()
        self.log: dict[str, list[dict]] = {}  # open_kfid -> messages in order
        self.states: dict[tuple[str, str], int] = {}  # (open_kfid, external_userid) -> service_state
        self.quota_used: dict[tuple[str, str], int] = {}
        self.sent: list[dict] = []
        self.nicknames: dict[str, str] = {}
        self.media: dict[str, tuple[str, str, bytes]] = {}
        self.fail_next: list[int] = []  # HTTP statuses for the next kf/send_msg calls
        self.sync_delay = 0.0
        self._seq = 0

    # -- what the platform does when people act ------------------------------------------------
    def customer_writes(self, external_userid: str, msgtype: str = "text", open_kfid: str = OPEN_KFID, **body) -> str:
        """A WeChat user writes to the account: the message joins the log, the session opens
        (4 → 0) and the 5-reply quota starts again. Returns the msgid."""
        with self.lock:
            self._seq += 1
            msgid = f"from_msgid_{self._seq:08d}"
            content = body or {"content": f"消息 {self._seq}"}
            self.log.setdefault(open_kfid, []).append(
                {
                    "msgid": msgid,
                    "open_kfid": open_kfid,
                    "external_userid": external_userid,
                    "send_time": 1700000000 + self._seq,
                    "origin": 3,
                    "msgtype": msgtype,
                    msgtype: content,
                }
            )
            key = (open_kfid, external_userid)
            if self.states.get(key, 4) == 4:
                self.states[key] = 0
            self.quota_used[key] = 0
            return msgid

    def event(self, event_type: str, open_kfid: str = OPEN_KFID, **fields) -> str:
        with self.lock:
            self._seq += 1
            msgid = f"event_msgid_{self._seq:08d}"
            self.log.setdefault(open_kfid, []).append(
                {
                    "msgid": msgid,
                    "send_time": 1700000000 + self._seq,
                    "origin": 4,
                    "msgtype": "event",
                    "event": {"event_type": event_type, "open_kfid": open_kfid, **fields},
                }
            )
            return msgid

    def servicer_writes(self, external_userid: str, servicer: str, text: str, open_kfid: str = OPEN_KFID) -> str:
        with self.lock:
            self._seq += 1
            msgid = f"servicer_msgid_{self._seq:08d}"
            self.log.setdefault(open_kfid, []).append(
                {
                    "msgid": msgid,
                    "open_kfid": open_kfid,
                    "external_userid": external_userid,
                    "send_time": 1700000000 + self._seq,
                    "origin": 5,
                    "servicer_userid": servicer,
                    "msgtype": "text",
                    "text": {"content": text},
                }
            )
            return msgid

    def new_callback_token(self) -> str:
        token = "ENC" + uuid.uuid4().hex
        with self.lock:
            self.callback_tokens.add(token)
        return token

    def paths(self, suffix: str) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith(suffix)]


def _cursor(pos: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{pos}".encode()).decode().rstrip("=")


def _position(cursor: str) -> int | None:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return None
    return int(text[4:]) if text.startswith("pos:") and text[4:].isdigit() else None


class _Current:
    """The state the running server answers from; swapped for a fresh one per test."""

    def __init__(self):
        self.state = WeComState()

    def __getattr__(self, name):
        return getattr(self.state, name)

    def __setattr__(self, name, value):
        if name == "state":
            object.__setattr__(self, name, value)
        else:
            setattr(self.state, name, value)


def _make_handler(st: _Current):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _json(self, data: dict, status: int = 200):
            body = json.dumps(data, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, errcode: int, errmsg: str):
            return self._json({"errcode": errcode, "errmsg": errmsg})

        def _authorized(self, query) -> bool:
            return (query.get("access_token") or [""])[0] in st.valid_tokens

        def do_GET(self):
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            st.requests.append({"method": "GET", "path": parts.path, "query": query})
            if parts.path.endswith("/cgi-bin/gettoken"):
                if query.get("corpid") != [CORP_ID]:
                    return self._error(40013, "invalid corpid")
                if query.get("corpsecret") != [KF_SECRET]:
                    return self._error(40001, "invalid secret")
                with st.lock:
                    st.tokens_issued += 1
                    token = f"WECOM_TOKEN_{st.tokens_issued}"
                    st.valid_tokens.add(token)
                return self._json({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})
            if parts.path.endswith("/cgi-bin/media/get"):
                if not self._authorized(query):
                    return self._error(40014, "invalid access_token")
                media = st.media.get((query.get("media_id") or [""])[0])
                if media is None:
                    return self._error(40007, "invalid media_id")
                content_type, name, data = media
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Disposition", f'attachment; filename="{name}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return None
            return self._json({"errcode": 404, "errmsg": "not found"}, status=404)

        def do_POST(self):
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            entry = {"method": "POST", "path": parts.path, "query": query, "raw": raw}
            try:
                entry["json"] = json.loads(raw.decode())
            except ValueError:
                entry["json"] = None
            st.requests.append(entry)
            if not self._authorized(query):
                return self._error(40014, "invalid access_token")
            path = parts.path.split("/cgi-bin/", 1)[-1]
            if path == "media/upload":
                media_type = (query.get("type") or [""])[0]
                if media_type not in ("image", "voice", "video", "file") or b'name="media"' not in raw:
                    return self._error(40004, "invalid media type")
                return self._json(
                    {
                        "errcode": 0,
                        "errmsg": "",
                        "type": media_type,
                        "media_id": f"MEDIA_{media_type}_{len(st.paths('media/upload'))}",
                        "created_at": "1380000000",
                    }
                )
            data = entry["json"]
            if not isinstance(data, dict):
                return self._error(47001, "data format error")
            handler = {
                "kf/sync_msg": self._sync_msg,
                "kf/send_msg": self._send_msg,
                "kf/send_msg_on_event": self._send_msg_on_event,
                "kf/service_state/get": self._state_get,
                "kf/service_state/trans": self._state_trans,
                "kf/customer/batchget": self._batchget,
                "kf/account/list": self._account_list,
            }.get(path)
            if handler is None:
                return self._json({"errcode": 404, "errmsg": "not found"}, status=404)
            return handler(data)

        def _sync_msg(self, data):
            token = data.get("token")
            if token and token not in st.callback_tokens:
                return self._error(95007, "invalid msg token")
            limit = data.get("limit", 1000)
            if not isinstance(limit, int) or not 1 <= limit <= 1000:
                return self._error(40058, "invalid limit")
            pos = _position(str(data.get("cursor") or ""))
            if pos is None:
                return self._error(95000, "invalid cursor")
            if st.sync_delay:
                time.sleep(st.sync_delay)
            with st.lock:
                log = st.log.get(str(data.get("open_kfid") or ""), [])
                page = log[pos : pos + limit]
                end = pos + len(page)
                has_more = 1 if end < len(log) else 0
            return self._json(
                {"errcode": 0, "errmsg": "ok", "next_cursor": _cursor(end), "has_more": has_more, "msg_list": page}
            )

        def _send_msg(self, data):
            with st.lock:
                fail = st.fail_next.pop(0) if st.fail_next else None
            if fail:
                return self._json({"errcode": -1, "errmsg": "system busy"}, status=fail)
            msgtype = data.get("msgtype")
            if msgtype not in SEND_TYPES or not isinstance(data.get(msgtype), dict):
                return self._error(40008, "invalid message type")
            if data.get("open_kfid") not in st.log and data.get("open_kfid") != OPEN_KFID:
                return self._error(95004, "open_kfid not exist")
            key = (data.get("open_kfid"), data.get("touser"))
            with st.lock:
                if st.states.get(key, 4) not in (0, 1):
                    return self._error(95018, "send msg session status invalid")
                if st.quota_used.get(key, 0) >= 5:
                    return self._error(95001, "send msg count limit")
                st.quota_used[key] = st.quota_used.get(key, 0) + 1
                st.sent.append(data)
            return self._json({"errcode": 0, "errmsg": "ok", "msgid": data.get("msgid") or uuid.uuid4().hex})

        def _send_msg_on_event(self, data):
            if not data.get("code") or data.get("msgtype") not in ("text", "msgmenu"):
                return self._error(40008, "invalid message type")
            with st.lock:
                st.sent.append(data)
            return self._json({"errcode": 0, "errmsg": "ok", "msgid": data.get("msgid") or uuid.uuid4().hex})

        def _state_get(self, data):
            key = (data.get("open_kfid"), data.get("external_userid"))
            return self._json(
                {"errcode": 0, "errmsg": "ok", "service_state": st.states.get(key, 4), "servicer_userid": ""}
            )

        def _state_trans(self, data):
            key = (data.get("open_kfid"), data.get("external_userid"))
            target = data.get("service_state")
            with st.lock:
                current = st.states.get(key, 4)
                if target not in TRANSITIONS[current]:
                    return self._error(95016, "service state transition not allowed")
                if target == 3 and not data.get("servicer_userid"):
                    return self._error(95014, "servicer_userid required")
                st.states[key] = target
            return self._json({"errcode": 0, "errmsg": "ok", "msg_code": f"MSG_CODE_{target}"})

        def _account_list(self, data):
            if not isinstance(data.get("limit", 100), int) or not 1 <= data.get("limit", 100) <= 100:
                return self._error(40058, "invalid limit")
            accounts = [
                {"open_kfid": OPEN_KFID, "name": "顺丰上海客服", "avatar": "", "manage_privilege": True},
                {"open_kfid": "wkAJ2GCAAAtest0002", "name": "顺丰广州客服", "avatar": "", "manage_privilege": True},
            ]
            return self._json({"errcode": 0, "errmsg": "ok", "account_list": accounts})

        def _batchget(self, data):
            ids = data.get("external_userid_list")
            if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
                return self._error(40058, "invalid external_userid_list")
            found = [i for i in ids if i in st.nicknames]
            return self._json(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "customer_list": [
                        {"external_userid": i, "nickname": st.nicknames[i], "avatar": "", "gender": 0, "unionid": ""}
                        for i in found
                    ],
                    "invalid_external_userid": [i for i in ids if i not in st.nicknames],
                }
            )

    return Handler


class WeComServer:
    """Started once per test session; `reset()` gives each test a platform with no history."""

    def __init__(self):
        self.current = _Current()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self.current))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/cgi-bin/"

    @property
    def state(self) -> WeComState:
        return self.current.state

    def reset(self) -> WeComState:
        self.current.state = WeComState()
        return self.current.state

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class WeComCallback:
    """Posts to our callback URL the way WeCom does: msg_signature/timestamp/nonce in the query,
    `<xml><ToUserName/><Encrypt/><AgentID/></xml>` in the body."""

    def __init__(self, client, channel, *, corp_id: str = CORP_ID, token: str = KF_TOKEN, aes_key: str = KF_AES_KEY):
        self.client = client
        self.channel = channel
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.corp_id = corp_id

    def url(self) -> str:
        return f"/wecom-kf/{self.channel.key}/"

    def _sealed(self, plain: str, timestamp: str, nonce: str) -> tuple[str, str]:
        sealed = xmltodict.parse(self.crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        return sealed["Encrypt"], sealed["MsgSignature"]

    def verify_url(self, echo: str = "1616140317555161061", *, timestamp: str | None = None, tamper: bool = False):
        timestamp = timestamp or str(int(time.time()))
        nonce = uuid.uuid4().hex[:10]
        echostr, signature = self._sealed(echo, timestamp, nonce)
        if tamper:
            signature = "0" * 40
        return self.client.get(
            self.url(), {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
        )

    def notify(self, token: str, *, open_kfid: str = OPEN_KFID, timestamp: str | None = None, tamper: str = ""):
        timestamp = timestamp or str(int(time.time()))
        nonce = uuid.uuid4().hex[:10]
        plain = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><CreateTime>{timestamp}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
        )
        encrypt, signature = self._sealed(plain, timestamp, nonce)
        if tamper == "signature":
            signature = "0" * 40
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
        )
        query = f"msg_signature={signature}&timestamp={timestamp}&nonce={nonce}"
        return self.client.post(f"{self.url()}?{query}", data=body, content_type="text/xml")
