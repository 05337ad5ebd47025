"""A saved notification goes to its user's channel once the transaction
commits, so the page never hears of a row it cannot read yet.  A broker
that does not answer is logged and does not undo the save: the page shows
the notification at its next load."""
import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

import fastpush_django as fastpush

from .models import Notification

log = logging.getLogger("notifications")


def publish(n):
    try:
        return fastpush.publish(fastpush.user_channel(n.user_id), n.as_event(),
                                event="notification")
    except fastpush.FastpushError as e:
        log.warning("notification %s not pushed: %s", n.pk, e)
        return None


@receiver(post_save, sender=Notification)
def pushed_on_save(sender, instance, created, **kwargs):
    if created:
        transaction.on_commit(lambda: publish(instance))
