"""An oslo.messaging notification listener, as ceilometer and other OpenStack services
run one, for imagefleet's Glance notifications (SPEC 10).

Listens with the rabbit driver on `--exchange` for topic `--topic` (INFO and ERROR
priorities), prints `{"ready": true}` once its queue is declared and bound, then one
JSON line per notification (event_type, priority, publisher_id, the payload's id or
image_id, and the payload itself), and exits after `--count` notifications or when
`--deadline` seconds have passed (exit status 1 then).

The queue is named by `--pool` (oslo names it by the pool when one is given), so
concurrent tests do not share oslo's default `notifications.info` queue; the caller
deletes it afterwards. `amqp_durable_queues` is set because imagefleet declares the
exchange durable and RabbitMQ refuses a second declaration with other arguments.
"""

import argparse
import json
import sys
import threading
import time

from oslo_config import cfg
import oslo_messaging


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="rabbit://user:pass@host:port/vhost")
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--topic", default="notifications")
    parser.add_argument("--pool", required=True, help="names the listener's queue")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--deadline", type=float, default=60.0)
    args = parser.parse_args()

    conf = cfg.ConfigOpts()
    conf([], project="imagefleet-notification-listener")
    transport = oslo_messaging.get_notification_transport(conf, url=args.url)
    conf.set_override("amqp_durable_queues", True, group="oslo_messaging_rabbit")

    lock = threading.Lock()
    received = []
    done = threading.Event()

    def emit(line):
        with lock:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()

    class Endpoint:
        def _record(self, priority, publisher_id, event_type, payload):
            ident = None
            if isinstance(payload, dict):
                ident = payload.get("id") or payload.get("image_id")
            emit({
                "event_type": event_type,
                "priority": priority,
                "publisher_id": publisher_id,
                "id": ident,
                "payload": payload,
            })
            with lock:
                received.append(event_type)
                if len(received) >= args.count:
                    done.set()
            return oslo_messaging.NotificationResult.HANDLED

        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            return self._record("INFO", publisher_id, event_type, payload)

        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            return self._record("ERROR", publisher_id, event_type, payload)

    targets = [oslo_messaging.Target(topic=args.topic, exchange=args.exchange)]
    listener = oslo_messaging.get_notification_listener(
        transport, targets, [Endpoint()], executor="threading", pool=args.pool
    )
    # start() declares the queue and binds it before it returns: from here on no
    # notification is lost, even before the first poll.
    listener.start()
    emit({"ready": True})
    finished = done.wait(timeout=max(0.0, args.deadline))
    listener.stop()
    listener.wait()
    transport.cleanup()
    if not finished:
        emit({"timeout": True, "received": len(received)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
