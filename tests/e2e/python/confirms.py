"""Publisher with confirms and a consumer, for the real-node e2e: proves that
no confirmed message is lost while the broker cluster rolls or scales.

The publisher sends numbered persistent messages to a quorum queue and counts
one as confirmed only when the broker confirmed it; on any connection error it
reconnects (through the client Service, to whichever node is Ready) and goes
on with the next number. The consumer acknowledges what it receives. When the
stop file appears, publishing stops and the consumer drains until every
confirmed number has arrived or the drain time ends. The report (JSON) says
how many were confirmed, received and lost, and the longest time between two
confirms (the publish stall). Written with pika, a client nobody at warren
wrote. While it runs, REPORT_FILE.progress holds the number confirmed so far.

    confirms.py URI QUEUE STOP_FILE REPORT_FILE
"""

import json
import os
import sys
import threading
import time

import pika

URI, QUEUE, STOP_FILE, REPORT = sys.argv[1:5]
DRAIN_SECONDS = 120

lock = threading.Lock()
confirmed = set()
received = set()
stats = {"published": 0, "publisher_reconnects": 0, "consumer_reconnects": 0, "duplicates": 0,
         "longest_stall_s": 0.0, "last_error": ""}
stop_publishing = threading.Event()
stop_consuming = threading.Event()


def connect():
    params = pika.URLParameters(URI)
    params.heartbeat = 5
    params.blocked_connection_timeout = 30
    params.socket_timeout = 5
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    return connection, channel


def publish():
    number = 0
    last_confirm = time.monotonic()
    while not stop_publishing.is_set():
        try:
            connection, channel = connect()
            channel.confirm_delivery()
            while not stop_publishing.is_set():
                number += 1
                channel.basic_publish("", QUEUE, str(number).encode(),
                                      pika.BasicProperties(delivery_mode=2), mandatory=True)
                now = time.monotonic()
                with lock:
                    confirmed.add(number)
                    stats["published"] = number
                    stats["longest_stall_s"] = max(stats["longest_stall_s"], now - last_confirm)
                last_confirm = now
                time.sleep(0.01)
            connection.close()
        except Exception as error:  # any failure: reconnect and go on with the next number
            with lock:
                stats["publisher_reconnects"] += 1
                stats["last_error"] = repr(error)[:200]
            time.sleep(0.2)


def consume():
    while not stop_consuming.is_set():
        try:
            connection, channel = connect()
            channel.basic_qos(prefetch_count=200)
            for method, _, body in channel.consume(QUEUE, inactivity_timeout=0.5):
                if stop_consuming.is_set():
                    break
                if method is None:
                    continue
                number = int(body)
                with lock:
                    if number in received:
                        stats["duplicates"] += 1
                    received.add(number)
                channel.basic_ack(method.delivery_tag)
            connection.close()
        except Exception as error:
            with lock:
                stats["consumer_reconnects"] += 1
                stats["last_error"] = repr(error)[:200]
            time.sleep(0.2)


def main():
    threads = [threading.Thread(target=publish, daemon=True), threading.Thread(target=consume, daemon=True)]
    for thread in threads:
        thread.start()
    while not os.path.exists(STOP_FILE):
        with lock:
            progress = len(confirmed)
        with open(REPORT + ".progress.tmp", "w") as out:
            out.write(str(progress))
        os.replace(REPORT + ".progress.tmp", REPORT + ".progress")
        time.sleep(0.2)
    stop_publishing.set()
    threads[0].join(timeout=30)
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        with lock:
            if confirmed <= received:
                break
        time.sleep(0.5)
    stop_consuming.set()
    with lock:
        lost = sorted(confirmed - received)
        report = dict(stats, confirmed=len(confirmed), received=len(received), lost=len(lost),
                      lost_sample=lost[:20])
    with open(REPORT, "w") as out:
        json.dump(report, out)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
