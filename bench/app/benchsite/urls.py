from django.urls import path

from benchsite import views

urlpatterns = [
    path("health/", views.health),
    path("async/", views.async_health),
    path("json/", views.json_view),
]
