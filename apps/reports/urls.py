"""Supervisor centre pages (/supervisor/...)."""

from django.urls import path

from apps.reports import views

app_name = "reports"

urlpatterns = [
    path("supervisor/", views.home_page, name="home"),
    path("supervisor/reports/", views.report_page, name="report"),
    path("supervisor/monitor/", views.monitor_page, name="monitor"),
    path("supervisor/history/", views.history_page_view, name="history"),
    path("supervisor/conversations/<int:pk>/", views.conversation_page, name="conversation"),
    path("supervisor/exports/", views.exports_page, name="exports"),
    path("supervisor/follow-ups/", views.followups_page, name="followups"),
    path("supervisor/customers/", views.customers_page, name="customers"),
    path("supervisor/customers/<int:pk>/", views.customer_page, name="customer"),
]
