from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "apps.routing"
    label = "routing"
    verbose_name = _("Dispatch and routing")

    def ready(self) -> None:
        from django.conf import settings

        from apps.accounts import hooks as account_hooks
        from apps.conversations import hooks as conversation_hooks
        from apps.messaging import hooks as messaging_hooks
        from apps.routing import demo, services  # noqa: F401 - demo registers its seed step
        from apps.routing.schedule import BEAT_SCHEDULE
        from apps.routing.selectors import queue_audience_q, queue_for_agent_q

        conversation_hooks.before_conversation_start(services.intake_check)
        conversation_hooks.on_conversation_requeued(services.on_conversation_requeued)
        conversation_hooks.on_agent_capacity_freed(services.on_agent_capacity_freed)
        conversation_hooks.on_conversation_assigned(services.on_conversation_assigned)
        conversation_hooks.on_queue_changed(services.on_queue_changed)
        conversation_hooks.extra_agent_visibility(queue_for_agent_q)
        conversation_hooks.extra_agent_audience(queue_audience_q)
        account_hooks.on_status_changed(services.on_status_changed)
        account_hooks.on_capacity_changed(services.on_capacity_changed)
        account_hooks.on_connection_changed(services.presence_connection_changed)
        messaging_hooks.on_messages_committed(services.on_messages_committed)
        # Updated in place: Celery's config keeps a reference to this same dict, so beat sees
        # these entries whether it read its configuration before or after apps were ready.
        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            schedule.update(BEAT_SCHEDULE)
