"""What the supervisor centre hooks into: a customer merge takes the source's follow-ups to the target."""

from __future__ import annotations

from apps.customers import hooks as customer_hooks


@customer_hooks.on_customers_merged
def followups_follow_merge(*, source, target) -> None:
    from apps.reports.models import FollowUpTask

    FollowUpTask.objects.filter(customer=source).update(customer=target)
