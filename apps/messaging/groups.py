"""Channel-layer group names. They carry the tenant so no group is ever shared across tenants."""


def conversation_group(tenant_id: int, conversation_id: int) -> str:
    return f"t{tenant_id}.conv.{conversation_id}"


def agent_group(tenant_id: int, user_id: int) -> str:
    return f"t{tenant_id}.agent.{user_id}"


def customer_group(tenant_id: int, customer_id: int) -> str:
    return f"t{tenant_id}.customer.{customer_id}"


def tenant_staff_group(tenant_id: int) -> str:
    """Every connected staff member of the tenant (queue changes, monitor updates)."""
    return f"t{tenant_id}.staff"
