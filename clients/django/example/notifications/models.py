from django.conf import settings
from django.db import models


class Notification(models.Model):
    """Something to tell one user.  Saving a new one publishes it to the
    user's channel (signals.py), and their open pages show it at once."""
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    text = models.CharField(max_length=500)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def as_event(self):
        """What the page gets: the event's data."""
        return {"id": self.pk, "text": self.text, "created": self.created.isoformat()}

    def __str__(self):
        return f"{self.user}: {self.text}"
