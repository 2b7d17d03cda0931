from celery import shared_task


@shared_task(name="core.ping")
def ping() -> str:
    """Answered by a live worker: /healthz uses it to prove the worker consumes the queue."""
    return "pong"
