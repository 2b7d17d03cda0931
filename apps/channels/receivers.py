"""Hook registrations: agent replies in WeChat/partner conversations are delivered outside."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.channels import services
from apps.channels.models import Channel
from apps.conversations import hooks as conversation_hooks
from apps.messaging import hooks


@hooks.on_messages_written
def deliver_to_external_channel(*, messages) -> None:
    # An outbox row, written with the message (no query for a web-channel message: the channel
    # kind is memoised), so a reply is never committed without its delivery.
    for message in messages:
        services.outbound_enqueue_for_message(conversation=message.conversation, message=message)


@receiver(post_save, sender=Channel)
@receiver(post_delete, sender=Channel)
def forget_cached_kind(sender, instance, **kwargs) -> None:
    # Only invalidates the process-local memo of channel kinds (a saved id may be a new row).
    services.forget_channel_kind(instance.pk)


@conversation_hooks.on_conversation_closed
def end_platform_session(*, conversation) -> None:
    services.platform_session_end_enqueue(conversation=conversation)
