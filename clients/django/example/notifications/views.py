from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def index(request):
    """The user's latest notifications; new ones arrive over SSE (the
    page used to poll every 30 seconds)."""
    latest = request.user.notifications.all()[:50]
    return render(request, "notifications/index.html", {"notifications": latest})
