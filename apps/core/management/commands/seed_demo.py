"""Demo data, loaded by the run command. Safe to run any number of times."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts import services as account_services
from apps.accounts.models import Branch, Role, SkillGroup, User
from apps.core import demo
from apps.tenants.models import Tenant

DEMO_PASSWORD = "kefu-demo-2026"

# code, name, parent code
BRANCHES = [
    ("HQ", "总部", None),
    ("EAST", "华东大区", "HQ"),
    ("SH", "上海分公司", "EAST"),
    ("SH-PD", "浦东网点", "SH"),
    ("SH-MH", "闵行网点", "SH"),
    ("HZ", "杭州分公司", "EAST"),
    ("SOUTH", "华南大区", "HQ"),
    ("GZ", "广州分公司", "SOUTH"),
    ("GZ-TH", "天河网点", "GZ"),
]

# username, display name, role, branch code, cap
PEOPLE = [
    ("admin", "超级管理员", Role.SUPER_ADMIN, "HQ", 5),
    ("sup_east", "华东主管 王敏", Role.SUPERVISOR, "EAST", 5),
    ("sup_sh", "上海主管 李强", Role.SUPERVISOR, "SH", 5),
    ("sup_south", "华南主管 陈静", Role.SUPERVISOR, "SOUTH", 5),
    ("agent_hq", "总部客服 周杰", Role.AGENT, "HQ", 6),
    ("agent_sh1", "上海客服 张伟", Role.AGENT, "SH", 5),
    ("agent_sh2", "上海客服 刘洋", Role.AGENT, "SH", 4),
    ("agent_pd", "浦东客服 赵磊", Role.AGENT, "SH-PD", 3),
    ("agent_hz", "杭州客服 孙丽", Role.AGENT, "HZ", 3),
    ("agent_gz", "广州客服 黄婷", Role.AGENT, "GZ", 5),
]

SKILL_GROUPS = [
    ("快运咨询", "HQ", ["agent_hq", "agent_sh1", "agent_sh2", "agent_gz"]),
    ("优选售后", "HQ", ["agent_hq", "agent_hz"]),
    ("投诉处理", "EAST", ["agent_sh1", "agent_pd"]),
]


class Command(BaseCommand):
    help = "Create (or complete) the demo tenant, its branch tree, people and skill groups."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true")
        parser.add_argument("--slug", default="demo", help="a second demo tenant: usernames get the slug as prefix")
        parser.add_argument("--name", default="演示快运集团")

    @transaction.atomic
    def handle(self, *args, **options):
        slug = options["slug"]
        prefix = "" if slug == "demo" else f"{slug}_"
        tenant, _ = Tenant.objects.get_or_create(
            slug=slug,
            defaults={
                "name": options["name"],
                "welcome_text": "您好，欢迎咨询演示快运！请描述您的问题，我们马上为您服务。",
                "service_hours_text": "每天 08:00-22:00",
            },
        )
        branches: dict[str, Branch] = {}
        for code, name, parent_code in BRANCHES:
            branch = Branch.objects.filter(tenant=tenant, code=prefix + code).first()
            if branch is None:
                branch = account_services.branch_create(
                    tenant=tenant,
                    name=name,
                    code=prefix + code,
                    parent=branches[parent_code] if parent_code else None,
                    actor=None,
                )
            branches[code] = branch
        if not User.objects.filter(username="operator").exists():
            op = User(username="operator", role=Role.PLATFORM_OPERATOR, display_name="平台运营", is_staff=True)
            op.set_password(DEMO_PASSWORD)
            op.save()
        for username, display, role, code, cap in PEOPLE:
            if not User.objects.filter(username=prefix + username).exists():
                account_services.user_create(
                    tenant=tenant,
                    username=prefix + username,
                    password=DEMO_PASSWORD,
                    role=role,
                    branch=branches[code],
                    display_name=display,
                    max_chats_cap=cap,
                    actor=None,
                )
        for name, code, members in SKILL_GROUPS:
            group, _ = SkillGroup.objects.get_or_create(tenant=tenant, name=name, defaults={"branch": branches[code]})
            group.members.add(*User.objects.filter(username__in=[prefix + m for m in members]))
        demo.run_extensions(tenant=tenant, branches=branches)
        if not options["quiet"]:
            self.stdout.write(self.style.SUCCESS("Demo data ready."))
            self.stdout.write(f"  tenant: {tenant.name} (slug: {tenant.slug})")
            self.stdout.write(f"  password for every demo login: {DEMO_PASSWORD}")
            for username, display, role, code, _cap in PEOPLE:
                self.stdout.write(f"  {prefix + username:<10} {role:<12} {display} @ {branches[code].name}")
            self.stdout.write(f"  {'operator':<10} {'platform_operator':<12} 平台运营 (all tenants)")
