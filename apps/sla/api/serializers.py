from __future__ import annotations

from rest_framework import serializers

from apps.sla.models import SlaBreach, SlaPolicy


class SlaPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "is_enabled",
            "order",
            "channel",
            "min_priority",
            "customer_tier",
            "first_response_seconds",
            "resolution_seconds",
            "warning_percent",
        ]

    def get_fields(self):
        from apps.channels.models import Channel

        fields = super().get_fields()
        actor = self.context.get("actor")
        # Another tenant's channel id answers like a nonexistent one.
        fields["channel"] = serializers.PrimaryKeyRelatedField(
            queryset=Channel.objects.visible_to(actor) if actor else Channel.objects.none(),
            required=False,
            allow_null=True,
        )
        return fields


class SlaBreachSerializer(serializers.ModelSerializer):
    class Meta:
        model = SlaBreach
        fields = ["id", "conversation", "kind", "due_at", "breached_at", "agent", "branch"]
