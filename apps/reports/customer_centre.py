"""Customer centre (F39): the profile screen's read. Merge and split are apps.customers.services."""

from __future__ import annotations

from django.db.models import Count, Max

from apps.conversations.models import Conversation
from apps.customers.models import CustomerMerge
from apps.customers.selectors import customer_duplicates, customer_get_for_actor
from apps.reports.models import FollowUpTask


def customer_profile(*, actor, customer_id: int) -> dict:
    customer = customer_get_for_actor(actor=actor, customer_id=customer_id)
    convs = list(
        Conversation.objects.visible_to(actor)
        .filter(customer=customer)
        .select_related("channel", "assignee", "branch", "rating")
        .order_by("-created_at")[:100]
    )
    visits = (
        Conversation.objects.visible_to(actor)
        .filter(customer=customer)
        .values("channel__name")
        .annotate(n=Count("id"), last=Max("created_at"))
        .order_by("-last")
    )
    return {
        "customer": customer,
        "identities": list(customer.identities.all()),
        "conversations": convs,
        "visits": list(visits),
        "duplicates": customer_duplicates(actor=actor, customer=customer),
        "merges": list(CustomerMerge.objects.filter(target=customer).order_by("-id")[:20]),
        "followups": list(FollowUpTask.objects.visible_to(actor).filter(customer=customer)[:20]),
    }
