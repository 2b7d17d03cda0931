"""Channel-layer group names. They carry the tenant so no group is ever shared across tenants."""


def conversation_group(tenant_id: int, conversation_id: int) -> str:
    return f"t{tenant_id}.conv.{conversation_id}"


def agent_group(tenant_id: int, user_id: int) -> str:
    return f"t{tenant_id}.agent.{user_id}"


def customer_group(tenant_id: int, customer_id: int) -> str:
    return f"t{tenant_id}.customer.{customer_id}"


def tenant_staff_group(tenant_id: int) -> str:
    """Every connected staff member of the tenant: tenant-level counters only (queue.changed,
    agent.status). No conversation's data goes here: conversation events go to the access
    policy's audience (apps.messaging.publish.publish_conversation_event)."""
    return f"t{tenant_id}.staff"


def user_control_group(tenant_id: int, user_id: int) -> str:
    """Every staff socket of one user (agent, monitor, visitors): access control messages only
    (`kf.access`: re-check the user, or close the socket)."""
    return f"t{tenant_id}.user.{user_id}"


def monitor_group(tenant_id: int) -> str:
    """Supervisors' live screens: content-free wake-ups (`kf.nudge`); each screen re-reads its
    own scoped snapshot."""
    return f"t{tenant_id}.monitor"
