"""Every write to the organisation and its people."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts import hooks
from apps.accounts.models import ROLE_RANK, AgentStatus, AgentStatusLog, Branch, Role, SkillGroup, User
from apps.core.errors import ApplicationError, NotFound, PermissionDenied
from apps.core.services import audit_record


def _require_reach(actor: User, branch: Branch | None) -> None:
    if not actor.can_reach_branch(branch):
        # Outside the actor's subtree is indistinguishable from not existing.
        raise NotFound(_("Branch not found."))


def _require_manager(actor: User) -> None:
    if not actor.is_manager:
        raise PermissionDenied()


@transaction.atomic
def branch_create(
    *, tenant, name: str, parent: Branch | None = None, code: str = "", actor: User | None = None
) -> Branch:
    if actor is not None:
        _require_manager(actor)
        if parent is None and not (actor.is_super_admin or actor.is_platform_operator):
            raise PermissionDenied(_("Only a super admin can create a top-level branch."))
        if parent is not None:
            _require_reach(actor, parent)
    if parent is not None and parent.tenant_id != tenant.pk:
        raise NotFound(_("Branch not found."))
    if parent is None:
        branch = Branch.objects.add_root(create_kwargs={"tenant": tenant, "name": name, "code": code})
    else:
        branch = Branch.objects.add_child(
            Branch.objects.get(pk=parent.pk), create_kwargs={"tenant": tenant, "name": name, "code": code}
        )
    audit_record(
        actor=actor, action="branch.create", obj=branch, changes={"name": name, "parent": parent.pk if parent else None}
    )
    return branch


def _set_changed(obj: Branch | User, changes: dict[str, list[Any]], **values: Any) -> None:
    """Set each given value (None: not given) that differs, noting [before, after] for the audit."""
    for field, value in values.items():
        if value is not None and value != getattr(obj, field):
            changes[field] = [getattr(obj, field), value]
            setattr(obj, field, value)


@transaction.atomic
def branch_update(
    *,
    branch: Branch,
    actor: User,
    name: str | None = None,
    code: str | None = None,
    parent: Branch | None = None,
    move: bool = False,
) -> Branch:
    _require_manager(actor)
    _require_reach(actor, branch)
    changes: dict[str, list[Any]] = {}
    _set_changed(branch, changes, name=name, code=code)
    if changes:
        branch.save(update_fields=["name", "code"])
    if move:
        if parent is not None:
            _require_reach(actor, parent)
            if parent.tenant_id != branch.tenant_id:
                raise NotFound(_("Branch not found."))
            if parent.path.startswith(branch.path):
                raise ApplicationError(
                    "invalid_parent", _("A branch cannot be moved under itself or its own sub-branch.")
                )
        current_parent = Branch.objects.get_parent(branch)
        if (current_parent.pk if current_parent else None) != (parent.pk if parent else None):
            if parent is None:
                if not (actor.is_super_admin or actor.is_platform_operator):
                    raise PermissionDenied(_("Only a super admin can create a top-level branch."))
                root = Branch.objects.get_root_nodes().filter(tenant_id=branch.tenant_id).exclude(pk=branch.pk).last()
                if root is not None:
                    Branch.objects.move(branch, root, "last-sibling")
            else:
                Branch.objects.move(branch, Branch.objects.get(pk=parent.pk), "last-child")
            changes["parent"] = [current_parent.pk if current_parent else None, parent.pk if parent else None]
            branch = Branch.objects.get(pk=branch.pk)
    if changes:
        audit_record(actor=actor, action="branch.update", obj=branch, changes=changes)
    return branch


@transaction.atomic
def branch_set_enabled(*, branch: Branch, enabled: bool, actor: User) -> Branch:
    """F22. A disabled branch (or any branch under it) takes no new conversations and its
    agents cannot go online; agents online there now are set offline."""
    _require_manager(actor)
    _require_reach(actor, branch)
    if actor.branch_id == branch.pk and not actor.is_super_admin and not enabled:
        raise PermissionDenied(_("You cannot disable your own branch."))
    branch = Branch.objects.select_for_update().get(pk=branch.pk)
    if branch.is_enabled == enabled:
        return branch
    branch.is_enabled = enabled
    branch.save(update_fields=["is_enabled"])
    if not enabled:
        agents = User.objects.filter(tenant_id=branch.tenant_id, branch__path__startswith=branch.path).exclude(
            status__in=[AgentStatus.OFFLINE, AgentStatus.INVISIBLE]
        )
        for agent in agents:
            agent_set_status(agent=agent, status=AgentStatus.OFFLINE, actor=actor, reason="branch_disabled")
    audit_record(actor=actor, action="branch.enable" if enabled else "branch.disable", obj=branch)
    return branch


def _check_role_assignable(actor: User, role: str) -> None:
    if actor.is_platform_operator:
        return
    if role == Role.PLATFORM_OPERATOR or ROLE_RANK[Role(role)] > ROLE_RANK[Role(actor.role)]:
        raise PermissionDenied(_("You cannot give a role above your own."))


@transaction.atomic
def user_create(
    *,
    tenant,
    username: str,
    password: str,
    role: str,
    actor: User | None,
    branch: Branch | None = None,
    display_name: str = "",
    max_chats_cap: int = 5,
    is_active: bool = True,
    email: str = "",
) -> User:
    """F21/F34: open an account. Supervisors open accounts only inside their subtree."""
    if actor is not None:
        _require_manager(actor)
        _check_role_assignable(actor, role)
        if role != Role.SUPER_ADMIN or branch is not None:
            _require_reach(actor, branch)
    if branch is not None and branch.tenant_id != tenant.pk:
        raise NotFound(_("Branch not found."))
    if role in (Role.AGENT, Role.SUPERVISOR) and branch is None:
        raise ApplicationError("branch_required", _("Agents and supervisors must belong to a branch."))
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError("username_taken", _("This username is already taken."), status=409)
    user = User(
        tenant=tenant,
        username=username,
        role=role,
        branch=branch,
        display_name=display_name,
        email=email,
        max_chats_cap=max_chats_cap,
        max_chats=max_chats_cap,
        is_active=is_active,
        status=AgentStatus.OFFLINE,
    )
    try:
        # With the user: a password like the user name or display name is refused too.
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError("weak_password", " ".join(exc.messages)) from exc
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        actor=actor,
        action="user.create",
        obj=user,
        tenant=tenant,
        changes={"role": role, "branch": branch.pk if branch else None},
    )
    return user


def _require_user_reach(actor: User, user: User) -> None:
    if actor.is_platform_operator:
        return
    if user.tenant_id != actor.tenant_id:
        raise NotFound(_("User not found."))
    if actor.is_super_admin:
        return
    if user.branch is None or not actor.can_reach_branch(user.branch):
        raise NotFound(_("User not found."))


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: User,
    display_name: str | None = None,
    role: str | None = None,
    branch: Branch | None = None,
    set_branch: bool = False,
    max_chats_cap: int | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> User:
    _require_manager(actor)
    _require_user_reach(actor, user)
    changes: dict[str, list[Any]] = {}
    _set_changed(user, changes, email=email, display_name=display_name, phone=phone)
    if role is not None and role != user.role:
        _check_role_assignable(actor, role)
        _check_role_assignable(actor, user.role)
        changes["role"] = [user.role, role]
        user.role = role
    if set_branch and (branch.pk if branch else None) != user.branch_id:
        _require_reach(actor, branch)
        changes["branch"] = [user.branch_id, branch.pk if branch else None]
        user.branch = branch
    if max_chats_cap is not None and max_chats_cap != user.max_chats_cap:
        if not 0 <= max_chats_cap <= 100:
            raise ApplicationError("invalid_capacity", _("The limit must be between 0 and 100."))
        changes["max_chats_cap"] = [user.max_chats_cap, max_chats_cap]
        user.max_chats_cap = max_chats_cap
        user.max_chats = min(user.max_chats, max_chats_cap) if user.max_chats else max_chats_cap
    if changes:
        user.save()
        audit_record(actor=actor, action="user.update", obj=user, changes=changes)
        if "role" in changes or "branch" in changes:
            hooks.run_access_changed(user)
    return user


@transaction.atomic
def user_set_active(*, user: User, active: bool, actor: User) -> User:
    """Disable or re-enable an account. A disabled account cannot log in and is set offline."""
    _require_manager(actor)
    _require_user_reach(actor, user)
    if user.pk == actor.pk:
        raise PermissionDenied(_("You cannot disable your own account."))
    if user.is_active == active:
        return user
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active and user.status != AgentStatus.OFFLINE:
        agent_set_status(agent=user, status=AgentStatus.OFFLINE, actor=actor, reason="account_disabled")
    audit_record(actor=actor, action="user.enable" if active else "user.disable", obj=user)
    hooks.run_access_changed(user)
    return user


@transaction.atomic
def user_set_password(*, user: User, password: str, actor: User) -> User:
    if actor.pk != user.pk:
        _require_manager(actor)
        _require_user_reach(actor, user)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError("weak_password", " ".join(exc.messages)) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(actor=actor, action="user.password", obj=user)
    return user


def agent_set_max_chats(*, agent: User, max_chats: int) -> User:
    """F6b: the agent picks how many chats they take at once, up to the supervisor's cap."""
    if not 0 <= max_chats <= agent.max_chats_cap:
        raise ApplicationError(
            "capacity_above_cap",
            _("You can take at most %(cap)d conversations at once.") % {"cap": agent.max_chats_cap},
        )
    with transaction.atomic():
        User.objects.filter(pk=agent.pk).update(max_chats=max_chats)
        agent.max_chats = max_chats
        from apps.accounts import hooks

        hooks.run_capacity_changed(agent)
    return agent


STATUS_ONLINE_LIKE = {AgentStatus.ONLINE, AgentStatus.BUSY, AgentStatus.AWAY}


def agent_set_status(*, agent: User, status: str, actor: User | None = None, reason: str = "") -> User:
    """F6: invisible at login; online/busy/away/invisible by choice, offline when gone.

    An agent of a disabled branch (or a disabled account) cannot become visible."""
    status = AgentStatus(status)
    if status in STATUS_ONLINE_LIKE:
        if not agent.is_active:
            raise PermissionDenied(_("This account is disabled."), code="account_disabled")
        if not agent.is_agent_role:
            raise ApplicationError("not_an_agent", _("Only agents and supervisors have a service status."))
        if agent.branch is None or not agent.branch.is_effectively_enabled():
            raise ApplicationError("branch_disabled", _("Your branch is disabled: you cannot go online."), status=403)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=agent.pk)
        previous = locked.status
        if previous == status:
            agent.status = status
            return agent
        now = timezone.now()
        User.objects.filter(pk=agent.pk).update(status=status, status_changed_at=now)
        agent.status = status
        agent.status_changed_at = now
        if agent.tenant_id:
            AgentStatusLog.objects.create(
                tenant_id=agent.tenant_id,
                agent_id=agent.pk,
                branch_id_at_time=agent.branch_id or 0,
                previous=previous or "",
                status=status,
                actor=actor if getattr(actor, "pk", None) else None,
                reason=(reason or "")[:100],
                created_at=now,
            )
        from apps.accounts import hooks

        hooks.run_status_changed(agent, previous=previous, status=status, actor=actor, reason=reason)
    return agent


@transaction.atomic
def skill_group_set_members(*, group: SkillGroup, members: list[User], actor: User) -> SkillGroup:
    _require_manager(actor)
    for member in members:
        _require_user_reach(actor, member)
    group.members.set(members)
    audit_record(actor=actor, action="skillgroup.members", obj=group, changes={"members": [m.pk for m in members]})
    return group
