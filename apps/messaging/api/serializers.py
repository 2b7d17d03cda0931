from __future__ import annotations

from rest_framework import serializers

from apps.core.api import MAX_ID, id_field
from apps.messaging.models import ContentType, Visibility


class IdentitySerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=150)
    timestamp = serializers.IntegerField()
    signature = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)


class VisitorSessionRequestSerializer(serializers.Serializer):
    channel_key = serializers.CharField(max_length=64)
    visitor_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    identity = IdentitySerializer(required=False)


class ConversationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    last_seq = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class VisitorSessionResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.IntegerField(help_text="Unix seconds")
    visitor_id = serializers.CharField(help_text="Keep it (e.g. localStorage) and send it next time")
    customer_id = serializers.IntegerField()
    channel_id = serializers.IntegerField()
    websocket_path = serializers.CharField()
    tenant = serializers.DictField()
    greeting = serializers.CharField()
    conversations = ConversationBriefSerializer(many=True)


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    client_msg_id = serializers.CharField(allow_null=True)
    sender_kind = serializers.CharField()
    sender_id = serializers.IntegerField(allow_null=True)
    sender_name = serializers.CharField()
    content_type = serializers.ChoiceField(choices=ContentType.choices)
    body = serializers.CharField()
    payload = serializers.DictField()
    visibility = serializers.ChoiceField(choices=Visibility.choices)
    created_at = serializers.DateTimeField()


class HistoryResponseSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)
    last_seq = serializers.IntegerField(help_text="The conversation's last seq right now")
    has_more_before = serializers.BooleanField()
    has_more_after = serializers.BooleanField()


class SendRequestSerializer(serializers.Serializer):
    client_msg_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="Your id for the message; resending it returns the original",
    )
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    attachment_id = id_field(required=False, allow_null=True)
    visibility = serializers.ChoiceField(
        choices=Visibility.choices, default=Visibility.ALL, help_text="staff = internal note (staff only)"
    )


class SendResponseSerializer(serializers.Serializer):
    message = MessageSerializer()
    duplicate = serializers.BooleanField()


class ReadRequestSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0, max_value=MAX_ID)


class ReadResponseSerializer(serializers.Serializer):
    last_read_seq = serializers.IntegerField()


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    name = serializers.CharField()
    mime_type = serializers.CharField()
    size = serializers.IntegerField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class StartRequestSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
