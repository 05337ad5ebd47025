#!/usr/bin/python3
"""Publish a few events to a fastpush broker.

    python3 example.py [--control EP] [--ingest EP] [CHANNEL]

The endpoints default to $FASTPUSH_CONTROL / $FASTPUSH_INGEST, then to the
broker's defaults (tcp://127.0.0.1:7401 and :7400).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fastpush_publisher import FastpushError, FastpushPublisher  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Publish a few events to a fastpush broker.")
    ap.add_argument("--control", default=os.environ.get("FASTPUSH_CONTROL", "tcp://127.0.0.1:7401"))
    ap.add_argument("--ingest", default=os.environ.get("FASTPUSH_INGEST", "tcp://127.0.0.1:7400"))
    ap.add_argument("channel", nargs="?", default="news")
    args = ap.parse_args()

    with FastpushPublisher(control=args.control, ingest=args.ingest, timeout=3.0) as pub:
        try:
            # acknowledged: the broker answers with the event's id
            print("published", pub.publish(args.channel, {"title": "Hello", "at": time.time()}))
            print("published", pub.publish(args.channel, "a plain string", event="note"))
            # keyed: the broker keeps the latest value per key (STATE, snapshots)
            print("published", pub.publish("prices", 1.0841, key="EURUSD"))
            # fire and forget: no id, no answer
            pub.publish_async(args.channel, {"title": "async"})
            # the broker refuses bad input with a code
            pub.publish("not a valid channel", 1)
        except FastpushError as e:
            print(f"refused: {e.code}: {e.message}")
            return 1 if e.code in ("timeout", "broker_unavailable") else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
