"""Every write of the workbench."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError, NotFound, PermissionDenied
from apps.core.services import audit_record
from apps.quickreplies.models import QuickReply

MAX_PERSONAL_REPLIES = 500


def _clean(title: str, content: str) -> tuple[str, str]:
    title = (title or "").strip()
    content = (content or "").strip()
    if not content:
        raise ApplicationError("quick_reply_empty", _("A quick reply needs some content."))
    if len(content) > 2000:
        raise ApplicationError("quick_reply_too_long", _("A quick reply can be at most 2000 characters."))
    if not title:
        title = content.splitlines()[0][:40]
    return title[:100], content


def _require_team_editor(actor, branch) -> None:
    if not actor.is_manager:
        raise PermissionDenied(_("Only supervisors can edit team quick replies."))
    if branch is None:
        if not (actor.is_super_admin or actor.is_platform_operator):
            raise PermissionDenied(_("Only a super admin can edit tenant-wide quick replies."))
    elif not actor.can_reach_branch(branch):
        raise NotFound(_("Branch not found."))


@transaction.atomic
def quick_reply_create(
    *, actor, content: str, title: str = "", category: str = "", shortcut: str = "", team: bool = False, branch=None
) -> QuickReply:
    title, content = _clean(title, content)
    if team:
        _require_team_editor(actor, branch)
        owner = None
    else:
        if QuickReply.objects.filter(owner=actor).count() >= MAX_PERSONAL_REPLIES:
            raise ApplicationError("quick_reply_limit", _("You have too many quick replies. Delete some first."))
        owner, branch = actor, None
    reply = QuickReply.objects.create(
        tenant_id=actor.tenant_id,
        owner=owner,
        branch=branch,
        title=title,
        content=content,
        category=(category or "").strip()[:50],
        shortcut=(shortcut or "").strip()[:30],
    )
    if team:
        audit_record(actor=actor, action="quick_reply.create", obj=reply, changes={"title": title})
    return reply


def _require_editable(actor, reply: QuickReply) -> None:
    if reply.owner_id is not None:
        if reply.owner_id != actor.pk:
            raise NotFound()
    else:
        _require_team_editor(actor, reply.branch)


@transaction.atomic
def quick_reply_update(
    *,
    actor,
    quick_reply: QuickReply,
    title: str | None = None,
    content: str | None = None,
    category: str | None = None,
    shortcut: str | None = None,
) -> QuickReply:
    reply = QuickReply.objects.select_for_update().get(pk=quick_reply.pk)
    _require_editable(actor, reply)
    new_title, new_content = _clean(
        reply.title if title is None else title, reply.content if content is None else content
    )
    reply.title, reply.content = new_title, new_content
    if category is not None:
        reply.category = category.strip()[:50]
    if shortcut is not None:
        reply.shortcut = shortcut.strip()[:30]
    reply.save()
    if reply.owner_id is None:
        audit_record(actor=actor, action="quick_reply.update", obj=reply, changes={"title": reply.title})
    return reply


@transaction.atomic
def quick_reply_delete(*, actor, quick_reply: QuickReply) -> None:
    _require_editable(actor, quick_reply)
    if quick_reply.owner_id is None:
        audit_record(actor=actor, action="quick_reply.delete", obj=quick_reply)
    quick_reply.delete()


def quick_reply_mark_used(*, actor, quick_reply: QuickReply) -> None:
    """Frequently used replies float to the top of the "/" list."""
    QuickReply.objects.filter(pk=quick_reply.pk).update(use_count=F("use_count") + 1)
