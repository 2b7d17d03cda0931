"""Channel fixtures: a local server speaking WeChat's HTTP contract, a partner webhook receiver,
and inbound WeChat messages built and encrypted with wechatpy's own classes."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from wechatpy.crypto import WeChatCrypto
from wechatpy.fields import IntegerField, StringField
from wechatpy.replies import BaseReply, TextReply

from apps.channels import services
from apps.channels.models import ChannelKind

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"
MINI_APP_ID = "wxmini0123456789a"  # a mini-program on the same local WeChat server
TOKEN = "test-token-2026"
ORIGINAL_ID = "gh_test00000001"


# --- inbound messages, built with wechatpy's XML classes -------------------------------------


class InboundText(TextReply):
    msg_id = IntegerField("MsgId")


class InboundImage(BaseReply):
    type = "image"
    pic_url = StringField("PicUrl")
    media_id = StringField("MediaId")
    msg_id = IntegerField("MsgId")


class InboundEvent(BaseReply):
    type = "event"
    event = StringField("Event")
    key = StringField("EventKey")


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class WeChatSender:
    """Posts to our callback the way WeChat's servers do (plain or safe mode)."""

    def __init__(self, client, channel, *, safe: bool):
        self.client = client
        self.channel = channel
        self.safe = safe

    def url(self) -> str:
        return f"/wechat/{self.channel.key}/"

    def post(
        self,
        reply: BaseReply | str,
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
        app_id: str = APP_ID,
        tamper: str = "",
        token: str = TOKEN,
    ):
        xml = reply.render() if isinstance(reply, BaseReply) else reply
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or uuid.uuid4().hex[:16]
        params = {
            "timestamp": timestamp,
            "nonce": nonce,
            "signature": signature(token, timestamp, nonce),
            "openid": "x",
        }
        if self.safe:
            envelope = WeChatCrypto(token, AES_KEY, app_id).encrypt_message(xml, nonce, timestamp)
            if tamper == "ciphertext":
                from wechatpy.crypto import _get_signature

                garbage = "QUJDREVGR0hJSktMTU5PUA=="  # valid base64, not a WeChat ciphertext
                envelope = f"<xml><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>"
                params["msg_signature"] = _get_signature(token, timestamp, nonce, garbage)
            else:
                import xmltodict

                params["msg_signature"] = xmltodict.parse(envelope)["xml"]["MsgSignature"]
            params["encrypt_type"] = "aes"
            body = envelope
        else:
            body = xml
        if tamper == "signature":
            params["signature"] = "0" * 40
            params.pop("msg_signature", None) if not self.safe else params.update(msg_signature="0" * 40)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self.client.post(f"{self.url()}?{query}", data=body, content_type="text/xml")


def text_message(*, openid: str = "oUser0001", content: str = "你好，我的快递到哪了？", msg_id: int = 1000001):
    return InboundText(source=openid, target=ORIGINAL_ID, content=content, msg_id=msg_id)


# --- a local server with WeChat's (and a partner's) HTTP contract ------------------------------


class Recorder:
    def __init__(self):
        self.requests: list[dict] = []
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.fail_next: list[int] = []  # HTTP status codes to answer the next requests with
        self.media: dict[str, object] = {}  # media_id -> (content type, file name, bytes) or a JSON dict
        self.send_errors: list[int] = []  # WeChat errcodes for the next customer-service sends
        self.lock = threading.Lock()


def _make_handler(rec: Recorder):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _json(self, status: int, data: dict):
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path.endswith("/cgi-bin/token"):
                with rec.lock:
                    rec.tokens_issued += 1
                    token = f"ACCESS_TOKEN_{rec.tokens_issued}"
                    rec.valid_tokens.add(token)
                rec.requests.append({"path": parts.path, "query": query})
                if query.get("appid") not in ([APP_ID], [MINI_APP_ID]) or query.get("grant_type") != [
                    "client_credential"
                ]:
                    return self._json(200, {"errcode": 40013, "errmsg": "invalid appid"})
                return self._json(200, {"access_token": token, "expires_in": 7200})
            if parts.path.endswith("/cgi-bin/media/get"):
                rec.requests.append({"path": parts.path, "query": query})
                if (query.get("access_token") or [""])[0] not in rec.valid_tokens:
                    return self._json(200, {"errcode": 40001, "errmsg": "invalid credential"})
                media = rec.media.get((query.get("media_id") or [""])[0])
                if media is None:
                    return self._json(200, {"errcode": 40007, "errmsg": "invalid media_id"})
                if isinstance(media, dict):  # video: WeChat answers with a download URL
                    return self._json(200, media)
                content_type, name, data = media
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Disposition", f'attachment; filename="{name}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return None
            return self._json(404, {"errcode": 404})

        def do_POST(self):
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            entry = {"path": parts.path, "query": query, "headers": dict(self.headers), "raw": raw}
            try:
                entry["json"] = json.loads(raw.decode())
            except ValueError:
                entry["json"] = None
            rec.requests.append(entry)
            with rec.lock:
                fail = rec.fail_next.pop(0) if rec.fail_next else None
            if fail:
                return self._json(fail, {"error": "try again"})
            if parts.path.endswith("/cgi-bin/media/upload"):
                ok = b'name="media"' in raw and (query.get("type") == ["image"])
                return self._json(
                    200,
                    {"type": "image", "media_id": "MEDIA_UPLOADED_1", "created_at": 1}
                    if ok
                    else {"errcode": 40004, "errmsg": "invalid media type"},
                )
            if parts.path.endswith("/cgi-bin/message/custom/send"):
                token = (query.get("access_token") or [""])[0]
                if token not in rec.valid_tokens:
                    return self._json(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
                with rec.lock:
                    errcode = rec.send_errors.pop(0) if rec.send_errors else 0
                if errcode:
                    return self._json(200, {"errcode": errcode, "errmsg": "refused"})
                data = entry["json"] or {}
                msgtype = data.get("msgtype")
                required = {
                    "text": ["content"],
                    "image": ["media_id"],
                    "link": ["title", "description", "url", "thumb_url"],
                    "miniprogrampage": ["title", "pagepath", "thumb_media_id"],
                    "msgmenu": ["list"],
                }.get(msgtype)
                body = data.get(msgtype) if isinstance(data.get(msgtype), dict) else {}
                if not data.get("touser") or required is None or any(not body.get(k) for k in required):
                    return self._json(200, {"errcode": 40008, "errmsg": "invalid message type"})
                return self._json(200, {"errcode": 0, "errmsg": "ok"})
            return self._json(200, {"ok": True})

    return Handler


@pytest.fixture
def fake_remote():
    """A threaded HTTP server on a free port; yields (base_url, recorder)."""
    rec = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(rec))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def wechat_channel(org_a, fake_remote):
    base, _rec = fake_remote
    return services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="公众号",
        kind=ChannelKind.WECHAT,
        config={
            "app_id": APP_ID,
            "app_secret": "s3cret",
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "original_id": ORIGINAL_ID,
            "api_base_url": f"{base}/cgi-bin/",
        },
    )


@pytest.fixture
def wechat_plain_channel(org_a, fake_remote):
    base, _rec = fake_remote
    return services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="公众号(明文)",
        kind=ChannelKind.WECHAT,
        config={"app_id": APP_ID, "app_secret": "s3cret", "token": TOKEN, "api_base_url": f"{base}/cgi-bin/"},
    )


@pytest.fixture
def partner_channel(org_a, fake_remote):
    base, _rec = fake_remote
    return services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="菜鸟",
        kind=ChannelKind.PARTNER,
        branch=org_a.sh,
        config={"api_key": "cn-key", "api_secret": "cn-secret", "webhook_url": f"{base}/kefu-webhook"},
    )


# --- WeChat Customer Service (WeCom kf) -------------------------------------------------------------


@pytest.fixture(scope="session")
def _wecom_server():
    from .wecom_server import WeComServer

    server = WeComServer().start()
    yield server
    server.stop()


@pytest.fixture
def wecom(_wecom_server):
    """The platform, with no history: (server, state)."""
    _wecom_server.reset()
    return _wecom_server


def wecom_config(base_url: str, **overrides) -> dict:
    from .wecom_server import CORP_ID, KF_AES_KEY, KF_SECRET, KF_TOKEN, OPEN_KFID

    return {
        "corp_id": CORP_ID,
        "secret": KF_SECRET,
        "token": KF_TOKEN,
        "encoding_aes_key": KF_AES_KEY,
        "open_kfid": OPEN_KFID,
        "api_base_url": base_url,
        **overrides,
    }


@pytest.fixture
def wecom_channel(org_a, wecom):
    return services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="微信客服",
        kind=ChannelKind.WECOM_KF,
        branch=org_a.sh,
        config=wecom_config(wecom.base_url),
    )
