from django.urls import path

from . import views

app_name = "fastpush"
urlpatterns = [
    path("token", views.token, name="token"),
]
