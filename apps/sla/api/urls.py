from rest_framework.routers import SimpleRouter

from apps.sla.api import views

router = SimpleRouter()
router.register("sla/policies", views.SlaPolicyViewSet, basename="sla-policy")
router.register("sla/breaches", views.SlaBreachViewSet, basename="sla-breach")
urlpatterns = router.urls
