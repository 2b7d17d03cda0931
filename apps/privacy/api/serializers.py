from __future__ import annotations

from rest_framework import serializers

from apps.privacy.models import PersonalDataRequest, RequestKind, RetentionMode, RetentionPolicy


class RetentionPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = RetentionPolicy
        fields = ["messages_days", "messages_mode", "attachments_days", "visitor_trails_days", "exports_days"]


class RetentionPolicyUpdateSerializer(serializers.Serializer):
    messages_days = serializers.IntegerField(min_value=0, max_value=36500, required=False)
    messages_mode = serializers.ChoiceField(choices=RetentionMode.choices, required=False)
    attachments_days = serializers.IntegerField(min_value=0, max_value=36500, required=False)
    visitor_trails_days = serializers.IntegerField(min_value=0, max_value=36500, required=False)
    exports_days = serializers.IntegerField(min_value=0, max_value=36500, required=False)


class PersonalDataRequestSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = PersonalDataRequest
        fields = [
            "id",
            "kind",
            "customer",
            "status",
            "counts",
            "error",
            "created_at",
            "finished_at",
            "expires_at",
            "download_url",
        ]

    def get_download_url(self, obj) -> str | None:
        if obj.kind == RequestKind.ACCESS and obj.status == "done" and obj.file:
            return f"/api/v1/privacy/requests/{obj.pk}/download/"
        return None


class PersonalDataRequestCreateSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    kind = serializers.ChoiceField(choices=RequestKind.choices)


class CustomerViewSerializer(serializers.Serializer):
    actor = serializers.CharField()
    where = serializers.CharField()
    at = serializers.DateTimeField()
