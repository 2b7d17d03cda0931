from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import AgentStatus, Branch, Role, SkillGroup, User
from apps.core.api import id_field


class BranchSerializer(serializers.ModelSerializer):
    parent = id_field(required=False, allow_null=True, write_only=True)
    parent_id = serializers.SerializerMethodField()
    effectively_enabled = serializers.SerializerMethodField()

    class Meta:
        model = Branch
        fields = ["id", "name", "code", "is_enabled", "depth", "path", "parent", "parent_id", "effectively_enabled"]
        read_only_fields = ["depth", "path", "is_enabled"]

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_parent_id(self, obj) -> int | None:
        parent = Branch.objects.get_parent(obj)
        return parent.pk if parent else None

    def get_effectively_enabled(self, obj) -> bool:
        return obj.is_effectively_enabled()


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, required=False)
    branch = id_field(source="branch_id", allow_null=True, required=False)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "phone",
            "email",
            "role",
            "branch",
            "max_chats_cap",
            "max_chats",
            "status",
            "is_active",
            "password",
            "last_login",
        ]
        read_only_fields = ["max_chats", "status", "is_active", "last_login"]


class SkillGroupSerializer(serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = SkillGroup
        fields = ["id", "name", "description", "branch", "is_enabled", "members"]
        read_only_fields = ["branch"]


class SetEnabledSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[c for c in AgentStatus.choices if c[0] != AgentStatus.OFFLINE])


class MaxChatsSerializer(serializers.Serializer):
    max_chats = serializers.IntegerField(min_value=0, max_value=100)


class MembersSerializer(serializers.Serializer):
    members = serializers.ListField(child=id_field(), allow_empty=True, max_length=1000)
