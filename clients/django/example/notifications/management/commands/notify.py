"""manage.py notify USERNAME TEXT: save a notification for a user (its
post_save publishes it to the user's channel)."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ...models import Notification


class Command(BaseCommand):
    help = "Save a notification for a user; their open pages show it at once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("text")

    def handle(self, username, text, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"no user {username!r}")
        n = Notification.objects.create(user=user, text=text)    # post_save publishes
        self.stdout.write(f"notification {n.pk} for {username}\n")
