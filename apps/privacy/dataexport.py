"""The access file: everything held about one customer, as a ZIP (one JSON document + files).

PIPL art. 45: a person may consult and copy their personal information. The file holds the
profile and identities, every conversation with its customer-visible messages, ratings, captured
facts, leave-messages and visitor trails, and the attachments themselves. Staff-only notes are
the company's working notes and are left out (their number is given).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

from django.core.files import File
from django.utils import timezone

from apps.core.files import private_name


def _iso(value):
    return value.isoformat() if value else None


def customer_document(*, customer_id: int) -> tuple[dict, list]:
    from apps.conversations.models import Conversation, Rating
    from apps.customers.models import Customer
    from apps.knowledge.models import CapturedSlot
    from apps.messaging.models import Attachment, Message, Visibility
    from apps.privacy import trails
    from apps.routing.models import LeaveMessage

    customer = Customer.objects.get(pk=customer_id)
    conversations = []
    attachments: list = []
    convs = Conversation.objects.filter(customer_id=customer_id).select_related("channel").order_by("pk")
    ratings = {r.conversation_id: r for r in Rating.objects.filter(conversation__customer_id=customer_id)}
    for conv in convs:
        messages = []
        notes = 0
        for m in Message.objects.filter(conversation=conv).select_related("sender_user").order_by("seq"):
            if m.visibility != Visibility.ALL:
                notes += 1
                continue
            item = {
                "seq": m.seq,
                "at": _iso(m.created_at),
                "from": m.sender_kind,
                "agent": (m.sender_user.display_name or "") if m.sender_user else "",
                "type": m.content_type,
                "text": m.body,
            }
            att = (m.payload or {}).get("attachment") if isinstance(m.payload, dict) else None
            if att and att.get("id"):
                item["attachment"] = att.get("name") or str(att["id"])
            messages.append(item)
        rating = ratings.get(conv.pk)
        conversations.append(
            {
                "id": conv.pk,
                "channel": conv.channel.name,
                "started_at": _iso(conv.created_at),
                "closed_at": _iso(conv.closed_at),
                "messages": messages,
                "staff_notes_not_included": notes,
                "rating": {"score": rating.score, "tags": rating.tags, "comment": rating.comment} if rating else None,
            }
        )
    attachments = list(Attachment.objects.filter(conversation__customer_id=customer_id).exclude(file=""))
    document = {
        "generated_at": _iso(timezone.now()),
        "customer": {
            "id": customer.pk,
            "nickname": customer.display_name,
            "phone": customer.phone,
            "email": customer.email,
            "vip": customer.is_vip,
            "attributes": customer.attributes,
            "captured": customer.captured,
            "first_seen": _iso(customer.created_at),
            "last_seen": _iso(customer.last_seen_at),
            "identities": [{"kind": i.kind, "value": i.value} for i in customer.identities.order_by("pk")],
        },
        "conversations": conversations,
        "captured_facts": [
            {"conversation": s.conversation_id, "slot": s.slot, "value": s.value, "at": _iso(s.created_at)}
            for s in CapturedSlot.objects.filter(customer_id=customer_id).order_by("pk")
        ],
        "leave_messages": [
            {"at": _iso(lm.created_at), "name": lm.name, "contact": lm.contact, "message": lm.content}
            for lm in LeaveMessage.objects.filter(customer_id=customer_id).order_by("pk")
        ],
        "visits": trails.for_customer(customer_id=customer_id),
        "attachments": [
            {"file": f"attachments/{a.pk}-{os.path.basename(a.original_name or a.file.name)}", "type": a.mime_type}
            for a in attachments
        ],
    }
    return document, attachments


def customer_data_file(*, request) -> tuple[str, dict]:
    """Write the ZIP to private storage; returns (storage name, counts)."""
    document, attachments = customer_document(customer_id=request.customer_id)
    fd, path = tempfile.mkstemp(suffix=".zip")
    os.close(fd)
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("customer.json", json.dumps(document, ensure_ascii=False, indent=2))
            for att, entry in zip(attachments, document["attachments"], strict=True):
                try:
                    with att.file.open("rb") as fh:
                        zf.writestr(entry["file"], fh.read())
                except OSError:
                    entry["missing"] = True
        with open(path, "rb") as fh:
            name = request.file.storage.save(private_name("privacy", "zip"), File(fh))
    finally:
        os.unlink(path)
    counts = {
        "conversations": len(document["conversations"]),
        "messages": sum(len(c["messages"]) for c in document["conversations"]),
        "attachments": len(attachments),
        "visits": len(document["visits"]),
    }
    return name, counts
