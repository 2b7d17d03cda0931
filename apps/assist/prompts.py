"""What is sent to the provider: the instructions and this one conversation's latest messages,
nothing else (no other conversation, no customer record). Recalled messages and event lines are
left out; attachments are named by kind only."""

from __future__ import annotations

from apps.messaging.models import ContentType, Message, SenderKind, Visibility

SPEAKERS: dict[str, str] = {
    SenderKind.VISITOR: "客户",
    SenderKind.AGENT: "客服",
    SenderKind.SUPERVISOR: "主管",
    SenderKind.SALESPERSON: "销售",
    SenderKind.BOT: "机器人",
    SenderKind.SYSTEM: "系统",
}
KINDS: dict[str, str] = {ContentType.IMAGE: "[图片]", ContentType.FILE: "[文件]"}
MAX_LINE = 1000

SUMMARY_INSTRUCTIONS = (
    "你是客服团队的助手。请根据下面这一段客服对话，用简体中文写一段不超过150字的摘要，"
    "供接手的同事快速了解：客户的诉求、已经做了什么、还需要做什么。只写摘要本身。"
)
SUGGEST_INSTRUCTIONS = (
    "你是客服团队的助手。请根据下面这一段客服对话，替客服写出1到3条可以直接发给客户的下一句回复，"
    "语气礼貌、简洁、准确，不要编造对话中没有的事实。"
    '只输出一个JSON字符串数组，例如 ["回复一", "回复二"]。'
)


def transcript(conversation_id: int, limit: int) -> str:
    rows = list(
        Message.objects.filter(conversation_id=conversation_id, recalled_at__isnull=True)
        .exclude(content_type=ContentType.EVENT)
        .order_by("-seq")
        .values_list("sender_kind", "content_type", "body", "visibility")[:limit]
    )
    lines = []
    for sender_kind, content_type, body, visibility in reversed(rows):
        text = KINDS.get(content_type) or (body or "").strip()[:MAX_LINE]
        if not text:
            continue
        who = SPEAKERS.get(sender_kind, "系统")
        if visibility == Visibility.STAFF:
            who += "（内部备注）"
        lines.append(f"{who}：{text}")
    return "\n".join(lines) or "（对话还没有内容）"


def summary_messages(conversation_id: int, limit: int) -> list[dict]:
    return [
        {"role": "system", "content": SUMMARY_INSTRUCTIONS},
        {"role": "user", "content": transcript(conversation_id, limit)},
    ]


def suggestion_messages(conversation_id: int, limit: int) -> list[dict]:
    return [
        {"role": "system", "content": SUGGEST_INSTRUCTIONS},
        {"role": "user", "content": transcript(conversation_id, limit)},
    ]
