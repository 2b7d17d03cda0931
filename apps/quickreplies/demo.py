"""Demo quick replies for `manage.py seed_demo`: a team set for the whole company, one for the
East region, and a few personal ones, so "/" in the workbench shows something on the first day."""

from __future__ import annotations

from apps.accounts.models import User
from apps.core import demo
from apps.quickreplies.models import QuickReply

# (branch code or None for the whole tenant, category, title, shortcut, content)
TEAM = [
    (None, "问候", "欢迎语", "hy", "您好，很高兴为您服务，请问有什么可以帮您？"),
    (None, "查件", "请提供单号", "dh", "请提供您的运单号，我马上为您查询物流进度。"),
    (None, "查件", "稍等查询", "sd", "好的，请稍等，我帮您查一下。"),
    (None, "结束", "结束语", "js", "感谢您的咨询，祝您生活愉快！如有其他问题随时联系我们。"),
    ("EAST", "投诉", "投诉安抚", "ts", "非常抱歉给您带来不便，我已记录您的问题，会在 24 小时内给您答复。"),
    ("EAST", "改址", "改地址须知", "gd", "派送前可以修改地址，请提供新的收件地址和联系电话，修改后时效可能顺延一天。"),
]
# (username, title, shortcut, content)
PERSONAL = [
    ("agent_sh1", "我的工号", "gh", "我是上海客服张伟，工号 SH1001，有问题可以随时找我。"),
    ("agent_sh1", "上门取件", "qj", "上门取件可以在公众号下单，快递员会在 2 小时内联系您。"),
    ("agent_hq", "报价说明", "bj", "零担快运按重量和体积取大计费，具体价格以下单页面为准。"),
]


@demo.register
def demo_quick_replies(*, tenant, branches) -> None:
    for order, (code, category, title, shortcut, content) in enumerate(TEAM):
        QuickReply.objects.get_or_create(
            tenant=tenant,
            owner=None,
            shortcut=shortcut,
            defaults={
                "branch": branches.get(code) if code else None,
                "category": category,
                "title": title,
                "content": content,
                "sort_order": order,
            },
        )
    prefix = "" if tenant.slug == "demo" else f"{tenant.slug}_"
    for username, title, shortcut, content in PERSONAL:
        owner = User.objects.filter(username=prefix + username, tenant=tenant).first()
        if owner is not None:
            QuickReply.objects.get_or_create(
                tenant=tenant, owner=owner, shortcut=shortcut, defaults={"title": title, "content": content}
            )
