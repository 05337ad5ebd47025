"""fastpush for Django: publish events from Django code, give the
logged-in user channel tokens, open the stream from a template.

    import fastpush_django as fastpush
    fastpush.publish(fastpush.user_channel(user), {"text": "hi"})

    # urls.py:       path("fastpush/", include("fastpush_django.urls"))
    # a template:    {% load fastpush %} {% fastpush_stream %}

docs/django.md has the settings, the Apache configuration (mod_wsgi and
fastpush-sse side by side), the template tags and the limits.
"""
from .publish import FastpushError, publish, publish_async  # noqa: F401
from .tokens import user_channel  # noqa: F401
