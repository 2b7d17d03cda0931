"""A customer with data in every place the product keeps it, built through the services where
one exists, and a search of every table for their words."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus
from apps.channels import services as channel_services
from apps.channels.models import ChannelKind, InboundMessage
from apps.conversations import services as conv_services
from apps.customers.models import Customer, CustomerIdentity
from apps.knowledge import alerts, learning
from apps.knowledge import services as kb_services
from apps.knowledge.models import CapturedSlot
from apps.messaging.attachments import attachment_create, attachment_message_content
from apps.messaging.services import message_create
from apps.reports import services as report_services
from apps.routing.intake import conversation_intake
from apps.routing.services import leave_message_create

NAME = "隐私测试张三丰"
PHONE = "13912345678"
EMAIL = "zhangsanfeng@example.com"
ADDRESS = "浦东新区隐私路八十八号"
WAYBILL = "SF7788990011"
OPENID = "o-zhangsanfeng-openid-77"
NEEDLES = [NAME, PHONE, EMAIL, ADDRESS, WAYBILL, OPENID, "张三丰先生", "三丰很满意"]


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


class Footprint:
    """One customer who chatted, uploaded, rated, left a message and was talked about."""

    def __init__(self, org):
        self.org = org
        self.channel = channel_services.channel_create(
            tenant=org.tenant, actor=org.admin, name="官网", kind=ChannelKind.WEB, allowed_origins=[]
        )
        account_services.agent_set_status(agent=org.agent_sh, status=AgentStatus.ONLINE)
        self.customer = Customer.objects.create(
            tenant=org.tenant,
            display_name=NAME,
            phone=PHONE,
            email=EMAIL,
            attributes={"address": ADDRESS},
            captured={"waybill": [WAYBILL]},
        )
        CustomerIdentity.objects.create(tenant=org.tenant, customer=self.customer, kind="wechat", value=OPENID)
        self.conv = conversation_intake(channel=self.channel, customer=self.customer)
        self.conv.refresh_from_db()
        if self.conv.status != "active":
            conv_services.conversation_assign(conversation_id=self.conv.pk, agent_id=org.agent_sh.pk, actor=org.admin)
            self.conv.refresh_from_db()
        assert self.conv.status == "active"
        m1 = message_create(
            conversation_id=self.conv.pk,
            sender_kind="visitor",
            body=f"我是{NAME}，运单 {WAYBILL} 送到{ADDRESS}，电话 {PHONE}，投诉",
        )
        message_create(
            conversation_id=self.conv.pk, sender_kind="agent", sender_user=org.agent_sh, body="张三丰先生您好"
        )
        message_create(
            conversation_id=self.conv.pk,
            sender_kind="agent",
            sender_user=org.agent_sh,
            body=f"内部备注：{NAME} 是老客户",
            visibility="staff",
        )
        upload = SimpleUploadedFile(f"{NAME}身份证.png", png_bytes(), content_type="image/png")
        self.attachment = attachment_create(conversation=self.conv, upload=upload)
        ctype, payload = attachment_message_content(self.attachment)
        message_create(conversation_id=self.conv.pk, sender_kind="visitor", content_type=ctype, payload=payload)
        CapturedSlot.objects.create(
            tenant=org.tenant, conversation=self.conv, customer=self.customer, slot="waybill", value=WAYBILL, message=m1
        )
        kb_services.alert_keyword_create(tenant_id=org.tenant.pk, word="投诉")
        alerts.keyword_alerts_scan(conversation=self.conv, message=m1)
        learning.missed_question_record(conversation=self.conv, message=m1, reason="low_confidence")
        InboundMessage.objects.create(
            tenant=org.tenant,
            channel=self.channel,
            external_id="wx-1",
            sender_id=OPENID,
            kind="text",
            payload={"Content": f"{NAME} {ADDRESS}"},
            conversation=self.conv,
            message=m1,
        )
        conv_services.conversation_close(conversation_id=self.conv.pk, actor=org.agent_sh)
        rating = conv_services.rating_submit(
            conversation_id=self.conv.pk, customer=self.customer, score=1, comment="三丰很满意但是太慢"
        )
        task = report_services.followup_create_for_rating(rating_id=rating.pk)
        report_services.followup_update(
            actor=org.admin, task_id=task.pk, result=f"已致电{PHONE}", outcome="resolved", done=True
        )
        leave_message_create(
            channel=self.channel, customer=self.customer, name=NAME, contact=PHONE, content=f"请回电，{ADDRESS}"
        )
        report_services.tracking_subscribe(actor=org.admin, customer_id=self.customer.pk)
        from django.utils import timezone

        from apps.visitors.models import PageView, Visit

        visit = Visit.objects.create(
            tenant=org.tenant,
            channel=self.channel,
            visitor_key="k-zhangsanfeng",
            customer=self.customer,
            landing_url=f"https://shop.example.com/track?phone={PHONE}",
            current_url="https://shop.example.com/",
            current_title=f"{NAME}的订单",
            last_seen_at=timezone.now(),
        )
        PageView.objects.create(tenant=org.tenant, visit=visit, url="https://shop.example.com/", title=f"{NAME}的订单")


@pytest.fixture
def footprint(org_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return Footprint(org_a)


TEXT_TYPES = ("char", "text", "json", "clob", "varchar", "longtext", "mediumtext", "tinytext")


def tables_containing(needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a needle occurs, over every table of the database
    (not only our models), in plain and in JSON-escaped form."""
    forms = []
    for n in needles:
        forms.append((n, n))
        escaped = json.dumps(n)[1:-1]
        if escaped != n:
            forms.append((n, escaped))
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for col in connection.introspection.get_table_description(cursor, table):
                type_name = str(col.type_code).lower()
                try:
                    data_type = connection.introspection.get_field_type(col.type_code, col)
                except KeyError:
                    data_type = ""
                textual = any(t in type_name for t in TEXT_TYPES) or data_type in (
                    "CharField",
                    "TextField",
                    "JSONField",
                )
                if not textual:
                    continue
                qn = connection.ops.quote_name
                for needle, form in forms:
                    like = "%" + form.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
                    cursor.execute(f"SELECT COUNT(*) FROM {qn(table)} WHERE {qn(col.name)} LIKE %s ESCAPE '!'", [like])
                    if cursor.fetchone()[0]:
                        found.append((table, col.name, needle))
    return found
