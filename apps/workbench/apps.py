from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkbenchConfig(AppConfig):
    name = "apps.workbench"
    label = "workbench"
    verbose_name = _("Agent workbench")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from apps.workbench import receivers

        user_logged_in.connect(receivers.agent_logged_in, dispatch_uid="workbench.agent_logged_in")
