from __future__ import annotations

from rest_framework import serializers

from apps.core.api import id_field
from apps.knowledge.models import FaqEntry, KeywordAlert


class FaqEntrySerializer(serializers.ModelSerializer):
    similar_questions = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )
    links = serializers.ListField(child=serializers.DictField(), required=False, max_length=20)
    images = serializers.ListField(child=serializers.CharField(max_length=500), required=False, max_length=20)
    ask_slots = serializers.ListField(
        child=serializers.ChoiceField(choices=["phone", "waybill", "name", "address"]), required=False
    )

    class Meta:
        model = FaqEntry
        fields = [
            "id",
            "question",
            "similar_questions",
            "answer",
            "links",
            "images",
            "category",
            "ask_slots",
            "is_enabled",
            "valid_from",
            "valid_to",
            "branch",
            "channel",
            "hit_count",
            "use_count",
            "helpful_count",
            "unhelpful_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["hit_count", "use_count", "helpful_count", "unhelpful_count", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actor = self.context.get("actor")
        if actor is not None:
            from apps.accounts.models import Branch
            from apps.channels.models import Channel

            self.fields["branch"].queryset = Branch.objects.visible_to(actor)
            self.fields["channel"].queryset = Channel.objects.visible_to(actor)


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField()


class UsageSerializer(serializers.Serializer):
    entry_id = id_field()
    action = serializers.ChoiceField(choices=["sent", "edited"])


class KeywordAlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = KeywordAlert
        fields = ["id", "conversation", "word", "severity", "sender_kind", "message", "excerpt", "branch", "created_at"]
