"""Every write of the knowledge base: entries, vocabulary, import/export, usage, captured slots."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError
from apps.core.services import audit_record
from apps.knowledge.capture import compile_patterns, extract_slots
from apps.knowledge.index import index_bump
from apps.knowledge.models import (
    AlertKeyword,
    BotSettings,
    CapturedSlot,
    FaqEntry,
    SuggestionAction,
    SuggestionUsage,
)
from apps.tenants.models import Tenant

MAX_SIMILAR = 100
ENTRY_FIELDS = (
    "question",
    "similar_questions",
    "answer",
    "links",
    "images",
    "category",
    "ask_slots",
    "is_enabled",
    "valid_from",
    "valid_to",
    "branch",
    "channel",
)
EXPORT_COLUMNS = [
    "id",
    "category",
    "question",
    "similar_questions",
    "answer",
    "links",
    "images",
    "enabled",
    "valid_from",
    "valid_to",
]


# --- settings -------------------------------------------------------------------------------


def bot_settings_get(*, tenant_id: int) -> BotSettings:
    """The tenant's bot settings, created with the defaults on first use."""
    settings = BotSettings.objects.filter(tenant_id=tenant_id).first()
    if settings is not None:
        return settings
    try:
        with transaction.atomic():
            return BotSettings.objects.create(tenant_id=tenant_id)
    except IntegrityError:
        return BotSettings.objects.get(tenant_id=tenant_id)


# --- validation -----------------------------------------------------------------------------


def _safe_url(url: str) -> bool:
    url = (url or "").strip()
    return url.startswith(("https://", "http://", "/")) and not url.startswith("//") and len(url) <= 500


class _Invalid(Exception):
    """One field's problem, in the user's language."""


def _text(value: Any, *, limit: int, required: str, too_long: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise _Invalid(required)
    if len(text) > limit:
        raise _Invalid(too_long)
    return text


def _clean_question(value: Any) -> str:
    return _text(
        value, limit=200, required=_("The standard question is required."), too_long=_("At most 200 characters.")
    )


def _clean_answer(value: Any) -> str:
    return _text(value, limit=5000, required=_("The answer is required."), too_long=_("At most 5000 characters."))


def _clean_similar(value: Any) -> list[str]:
    phrasings = value or []
    if not isinstance(phrasings, list) or not all(isinstance(p, str) for p in phrasings):
        raise _Invalid(_("A list of phrasings is expected."))
    phrasings = list(dict.fromkeys(p.strip() for p in phrasings if p.strip()))
    if len(phrasings) > MAX_SIMILAR or any(len(p) > 200 for p in phrasings):
        raise _Invalid(_("At most 100 phrasings of at most 200 characters each."))
    return phrasings


def _clean_links(value: Any) -> list[dict]:
    links = value or []
    if not isinstance(links, list) or not all(isinstance(x, dict) and _safe_url(str(x.get("url", ""))) for x in links):
        raise _Invalid(_("Each link needs a title and an http(s) URL."))
    return [{"title": str(x.get("title") or x["url"])[:100], "url": str(x["url"]).strip()} for x in links]


def _clean_images(value: Any) -> list[str]:
    images = value or []
    if not isinstance(images, list) or not all(isinstance(x, str) and _safe_url(x) for x in images):
        raise _Invalid(_("Images must be http(s) URLs."))
    return [x.strip() for x in images]


def _clean_slots(value: Any) -> list[str]:
    slots = value or []
    if not isinstance(slots, list) or not set(slots) <= {"phone", "waybill", "name", "address"}:
        raise _Invalid(_("Unknown information slot."))
    return list(dict.fromkeys(slots))


# field -> its cleaner; the fields every new entry needs are checked even when absent.
_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "question": _clean_question,
    "answer": _clean_answer,
    "similar_questions": _clean_similar,
    "links": _clean_links,
    "images": _clean_images,
    "ask_slots": _clean_slots,
    "category": lambda value: str(value or "").strip()[:50],
    "is_enabled": bool,
}
_REQUIRED = ("question", "answer")
# Validated by the model's relations and the form or serializer that produced them.
_PASSED_THROUGH = ("valid_from", "valid_to", "branch", "channel")


def faq_entry_clean(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The entry's fields, validated; raises ApplicationError(fields=...) with every problem at once.
    partial: an update, where only the given fields are checked."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for name, clean in _CLEANERS.items():
        if name not in data and (partial or name not in _REQUIRED):
            continue
        try:
            out[name] = clean(data.get(name))
        except _Invalid as exc:
            errors[name] = str(exc)
    out.update({key: data[key] for key in _PASSED_THROUGH if key in data})
    valid_from, valid_to = out.get("valid_from"), out.get("valid_to")
    if valid_from and valid_to and valid_from > valid_to:
        errors["valid_to"] = _("The end of validity is before its start.")
    if errors:
        raise ApplicationError("invalid", _("The submitted data is not valid."), extra={"fields": errors})
    return out


# --- entries --------------------------------------------------------------------------------


def faq_entry_create(*, tenant_id: int, actor=None, **data) -> FaqEntry:
    fields = faq_entry_clean(data)
    with transaction.atomic():
        entry = FaqEntry.objects.create(tenant_id=tenant_id, **fields)
        index_bump(tenant_id=tenant_id)
        audit_record(actor=actor, action="kb.entry.create", obj=entry)
    return entry


def faq_entry_update(*, entry: FaqEntry, actor=None, **data) -> FaqEntry:
    fields = faq_entry_clean(data, partial=True)
    with transaction.atomic():
        for key, value in fields.items():
            setattr(entry, key, value)
        entry.save()
        index_bump(tenant_id=entry.tenant_id)
        audit_record(actor=actor, action="kb.entry.update", obj=entry, changes={"fields": sorted(fields)})
    return entry


def faq_entry_delete(*, entry: FaqEntry, actor=None) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="kb.entry.delete", obj=entry)
        tenant_id = entry.tenant_id
        entry.delete()
        index_bump(tenant_id=tenant_id)


def kb_changed(*, tenant_id: int) -> None:
    """For writes made elsewhere (the back office's own forms): rebuild indexes."""
    index_bump(tenant_id=tenant_id)


def alert_keyword_create(*, tenant_id: int, word: str, severity: str = "high", actor=None, **flags) -> AlertKeyword:
    word = word.strip()
    if not word:
        raise ApplicationError("invalid", _("The keyword is required."))
    with transaction.atomic():
        obj, _created = AlertKeyword.objects.update_or_create(
            tenant_id=tenant_id, word=word, defaults={"severity": severity, **flags}
        )
        audit_record(actor=actor, action="kb.alert_keyword.save", obj=obj)
    return obj


# --- import / export ------------------------------------------------------------------------


def _split_lines(value: str) -> list[str]:
    value = (value or "").replace("\r\n", "\n").replace("|", "\n")
    return [line.strip() for line in value.split("\n") if line.strip()]


def _parse_links(value: str) -> list[dict]:
    links = []
    for line in (value or "").replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line:
            continue
        title, _sep, url = line.rpartition(" ")
        links.append({"title": title.strip() or url, "url": url})
    return links


def _parse_when(value: Any, *, end: bool = False):
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    text = str(value).strip()
    parsed = parse_datetime(text)
    if parsed is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(text)
        parsed = datetime.combine(day, time.max if end else time.min)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "1", "true", "yes", "y", "是", "启用", "on"):
        return True
    if text in ("0", "false", "no", "n", "否", "停用", "off"):
        return False
    raise ValueError(text)


def _read_rows(content: bytes, filename: str) -> list[dict[str, Any]]:
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook is the uploader's problem
            raise ApplicationError("invalid_file", _("The file is not a readable XLSX workbook."))
        rows = list(wb.active.iter_rows(values_only=True))
        if not rows:
            return []
        header = [str(h or "").strip().lower() for h in rows[0]]
        return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(c not in (None, "") for c in r)]
    if name.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = content.decode("gb18030")
            except UnicodeDecodeError:
                raise ApplicationError("invalid_file", _("The CSV file must be UTF-8 or GB18030 encoded."))
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            return []
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
        return [r for r in reader if any((v or "").strip() for v in r.values() if isinstance(v, str))]
    raise ApplicationError("invalid_file", _("Upload a .csv or .xlsx file."))


MAX_IMPORT_ROWS = 20000


def faq_import(*, tenant_id: int, content: bytes, filename: str, actor=None) -> dict:
    """Create or update entries from a CSV/XLSX file; all rows or none.

    A row whose id is one of this tenant's entries updates it; any other row creates an entry.
    """
    rows = _read_rows(content, filename)
    if not rows:
        raise ApplicationError("empty_file", _("The file has no rows."))
    if len(rows) > MAX_IMPORT_ROWS:
        raise ApplicationError("too_many_rows", _("At most %(n)d rows per import.") % {"n": MAX_IMPORT_ROWS})
    if "question" not in rows[0] or "answer" not in rows[0]:
        raise ApplicationError("invalid_file", _("The file needs at least the columns question and answer."))
    existing_ids = set(FaqEntry.objects.filter(tenant_id=tenant_id).values_list("pk", flat=True))
    parsed: list[tuple[int | None, dict]] = []
    errors: list[dict] = []
    for number, row in enumerate(rows, start=2):
        try:
            data = {
                "question": str(row.get("question") or ""),
                "answer": str(row.get("answer") or ""),
                "category": str(row.get("category") or ""),
                "similar_questions": _split_lines(str(row.get("similar_questions") or "")),
                "links": _parse_links(str(row.get("links") or "")),
                "images": _split_lines(str(row.get("images") or "")),
                "is_enabled": _parse_bool(row.get("enabled")),
                "valid_from": _parse_when(row.get("valid_from")),
                "valid_to": _parse_when(row.get("valid_to"), end=True),
            }
            fields = faq_entry_clean(data)
        except ValueError as exc:
            errors.append({"row": number, "message": _("Unreadable value: %(v)s") % {"v": str(exc)[:50]}})
            continue
        except ApplicationError as exc:
            errors.append({"row": number, "message": str(exc.message), "fields": exc.extra.get("fields", {})})
            continue
        raw_id = str(row.get("id") or "").strip()
        entry_id = int(raw_id) if raw_id.isdigit() and int(raw_id) in existing_ids else None
        parsed.append((entry_id, fields))
    if errors:
        raise ApplicationError(
            "invalid_rows", _("Some rows are not valid; nothing was imported."), extra={"rows": errors[:100]}
        )
    created = updated = 0
    with transaction.atomic():
        to_create = []
        for entry_id, fields in parsed:
            if entry_id is None:
                to_create.append(FaqEntry(tenant_id=tenant_id, **fields))
            else:
                FaqEntry.objects.filter(tenant_id=tenant_id, pk=entry_id).update(**fields, updated_at=timezone.now())
                updated += 1
        FaqEntry.objects.bulk_create(to_create, batch_size=1000)
        created = len(to_create)
        index_bump(tenant_id=tenant_id)
        audit_record(
            actor=actor,
            action="kb.import",
            tenant=Tenant(pk=tenant_id),
            object_type="knowledge.FaqEntry",
            object_repr=filename,
            changes={"created": created, "updated": updated},
        )
    return {"created": created, "updated": updated}


def _export_row(entry: FaqEntry) -> list[Any]:
    return [
        entry.pk,
        entry.category,
        entry.question,
        "\n".join(entry.similar_questions or []),
        entry.answer,
        "\n".join(f"{link.get('title', '')} {link.get('url', '')}".strip() for link in entry.links or []),
        "\n".join(entry.images or []),
        "1" if entry.is_enabled else "0",
        timezone.localtime(entry.valid_from).isoformat() if entry.valid_from else "",
        timezone.localtime(entry.valid_to).isoformat() if entry.valid_to else "",
    ]


def _formula_safe(value: Any) -> Any:
    # A cell starting with = + - @ is run as a formula by spreadsheets (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def faq_export(*, queryset, fmt: str) -> tuple[bytes, str]:
    """The entries as CSV or XLSX bytes, and the content type."""
    rows = [[_formula_safe(v) for v in _export_row(e)] for e in queryset.order_by("id")]
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "FAQ"
        ws.append(EXPORT_COLUMNS)
        for row in rows:
            ws.append(row)
        book = io.BytesIO()
        wb.save(book)
        return book.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if fmt != "csv":
        raise ApplicationError("invalid_format", _("Choose csv or xlsx."))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"


# --- agent assist ---------------------------------------------------------------------------


def suggestion_use(*, conversation, entry: FaqEntry, agent, action: str) -> SuggestionUsage:
    if action not in SuggestionAction.values:
        raise ApplicationError("invalid", _("action must be sent or edited."))
    with transaction.atomic():
        usage = SuggestionUsage.objects.create(
            tenant_id=conversation.tenant_id, conversation=conversation, entry=entry, agent=agent, action=action
        )
        FaqEntry.objects.filter(pk=entry.pk).update(use_count=F("use_count") + 1)
    return usage


# --- information capture --------------------------------------------------------------------


def slots_capture(*, conversation, message, settings: BotSettings | None = None) -> dict[str, list[str]]:
    """Store the slots found in a visitor message on the conversation and the customer record."""
    from apps.customers.models import Customer

    patterns = compile_patterns(settings.waybill_patterns if settings is not None else None)
    found = extract_slots(message.body or "", waybill_patterns=patterns)
    if not found:
        return {}
    with transaction.atomic():
        for slot, values in found.items():
            for value in values:
                CapturedSlot.objects.get_or_create(
                    conversation_id=conversation.pk,
                    slot=slot,
                    value=value[:200],
                    defaults={
                        "tenant_id": conversation.tenant_id,
                        "customer_id": conversation.customer_id,
                        "message": message,
                    },
                )
        customer = Customer.objects.select_for_update().get(pk=conversation.customer_id)
        captured = dict(customer.captured or {})
        for slot, values in found.items():
            if slot == "waybill":
                known = (
                    [w for w in captured.get("waybill", []) if w not in values]
                    if isinstance(captured.get("waybill"), list)
                    else []
                )
                captured["waybill"] = (values + known)[:20]
            else:
                captured[slot] = values[-1]
        update: dict[str, Any] = {"captured": captured}
        if "phone" in found and not customer.phone:
            update["phone"] = found["phone"][-1]
        Customer.objects.filter(pk=customer.pk).update(**update)
    return found


def captured_for_conversation(*, conversation) -> dict:
    from apps.customers.models import Customer

    slots = CapturedSlot.objects.filter(conversation_id=conversation.pk).order_by("id")
    customer = Customer.objects.filter(pk=conversation.customer_id).values("captured", "phone", "is_vip").first()
    return {
        "conversation_id": conversation.pk,
        "slots": [
            {"slot": s.slot, "value": s.value, "message_id": s.message_id, "created_at": s.created_at.isoformat()}
            for s in slots
        ],
        "customer": {
            "id": conversation.customer_id,
            "captured": (customer["captured"] if customer else None) or {},
            "phone": customer["phone"] if customer else "",
            "is_vip": customer["is_vip"] if customer else False,
        },
    }
