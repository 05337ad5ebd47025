#!/usr/bin/python3
"""The example notifications site (docs/django.md)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    # fastpush_django lives one directory up (clients/django)
    sys.path.insert(1, os.path.dirname(HERE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notify_site.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
