"""manage.py fastpush_config: the fastpush-sse directives that must agree
with these FASTPUSH_* settings, to append to its configuration
(/etc/fastpush/sse.conf) so that the two sides cannot drift apart.

    python3 manage.py fastpush_config >> /etc/fastpush/sse.conf
"""
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand

from ...conf import positive, setting


def directives():
    """[(directive, value)] for fastpush-sse from the settings."""
    alg = setting("JWT_ALG")
    if alg == "HS256":
        key = setting("JWT_KEY_FILE")
    else:
        key = setting("JWT_PUBLIC_KEY_FILE")
    if not key:
        raise ImproperlyConfigured(
            "fastpush-sse reads its key from a file: set FASTPUSH_JWT_KEY_FILE (HS256) "
            "or FASTPUSH_JWT_PUBLIC_KEY_FILE (RS256)")
    heartbeat = positive("HEARTBEAT")
    return [("auth", "on"), ("jwt-key", key), ("jwt-alg", alg),
            ("jwt-claim", setting("JWT_CLAIM")), ("prefix", setting("SSE_PREFIX")),
            ("heartbeat", f"{int(heartbeat)}s" if heartbeat == int(heartbeat)
             else f"{int(heartbeat * 1000)}ms"),
            ("max-user-connections", str(int(setting("MAX_CONNECTIONS_PER_USER"))))]


class Command(BaseCommand):
    help = "Print the fastpush-sse directives that follow from the FASTPUSH_* settings."

    def handle(self, *args, **options):
        self.stdout.write("# from the Django settings (manage.py fastpush_config)\n")
        self.stdout.write("# stream lifetime: tokens live FASTPUSH_STREAM_LIFETIME = "
                          f"{setting('STREAM_LIFETIME')} s; the stream ends at their exp\n")
        for k, v in directives():
            self.stdout.write(f'{k} "{v}"\n' if " " in v else f"{k} {v}\n")
