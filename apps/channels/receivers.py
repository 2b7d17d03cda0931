"""Hook registrations: agent replies in WeChat/partner conversations are delivered outside."""

from apps.channels import services
from apps.messaging import hooks


@hooks.on_message_created
def deliver_to_external_channel(*, conversation, message) -> None:
    services.outbound_enqueue_for_message(conversation=conversation, message=message)
