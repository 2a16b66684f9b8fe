"""Seed 003's scenarios against a real RabbitMQ cluster, for the real-node e2e,
with paho-mqtt (a client nobody at warren wrote). Each command connects to the
nodes it is given by address, so the test decides which node plays which part.

    mqtt_cluster.py relay PUB_HOST SUB_HOST COUNT
        subscribe on SUB_HOST, then publish COUNT QoS 1 messages on PUB_HOST;
        succeeds when all COUNT arrived at the subscriber (within 60 s).
    mqtt_cluster.py retain HOST TOPIC PAYLOAD
        publish PAYLOAD as the retained message of TOPIC on HOST (QoS 1).
    mqtt_cluster.py retained HOST TOPIC
        subscribe on HOST as a new client and print the retained payload it was
        given, or nothing. Positive signal, no fixed wait: after the SUBACK a
        non-retained marker is published on the same node and topic; any
        retained message is delivered before the marker arrives.

The credentials come from MQTT_USERNAME and MQTT_PASSWORD; the port is 1883.
"""

import os
import sys
import threading
import uuid

import paho.mqtt.client as mqtt

PORT = 1883
TIMEOUT_S = 60


def connected_client(host, name):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"warren-e2e-{name}-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv311, clean_session=True)
    client.username_pw_set(os.environ["MQTT_USERNAME"], os.environ["MQTT_PASSWORD"])
    ready = threading.Event()
    client.on_connect = lambda c, userdata, flags, reason, properties: ready.set() if not reason.is_failure else None
    client.connect(host, PORT, keepalive=10)
    client.loop_start()
    if not ready.wait(TIMEOUT_S):
        raise SystemExit(f"{name}: no CONNACK from {host}:{PORT}")
    return client


def subscribe(client, topic):
    subscribed = threading.Event()
    client.on_subscribe = lambda c, userdata, mid, reasons, properties: subscribed.set()
    client.subscribe(topic, qos=1)
    if not subscribed.wait(TIMEOUT_S):
        raise SystemExit(f"no SUBACK for {topic}")


def relay(pub_host, sub_host, count):
    topic = f"warren/e2e/relay/{uuid.uuid4().hex[:8]}"
    received = set()
    all_arrived = threading.Event()
    lock = threading.Lock()

    def on_message(client, userdata, message):
        with lock:
            received.add(message.payload.decode())
            if len(received) == count:
                all_arrived.set()

    subscriber = connected_client(sub_host, "sub")
    subscriber.on_message = on_message
    subscribe(subscriber, topic)
    publisher = connected_client(pub_host, "pub")
    for number in range(count):
        publisher.publish(topic, str(number), qos=1).wait_for_publish(TIMEOUT_S)
    arrived = all_arrived.wait(TIMEOUT_S)
    publisher.disconnect()
    subscriber.disconnect()
    print(f"published {count} on {pub_host}, received {len(received)} on {sub_host}")
    return 0 if arrived else 1


def retain(host, topic, payload):
    publisher = connected_client(host, "retain")
    publisher.publish(topic, payload, qos=1, retain=True).wait_for_publish(TIMEOUT_S)
    publisher.disconnect()
    return 0


def retained(host, topic):
    marker = f"marker-{uuid.uuid4().hex}"
    retained_payloads = []
    marker_arrived = threading.Event()

    def on_message(client, userdata, message):
        payload = message.payload.decode()
        if payload == marker:
            marker_arrived.set()
        elif message.retain:
            retained_payloads.append(payload)

    subscriber = connected_client(host, "retained")
    subscriber.on_message = on_message
    subscribe(subscriber, topic)
    publisher = connected_client(host, "marker")
    publisher.publish(topic, marker, qos=1).wait_for_publish(TIMEOUT_S)
    if not marker_arrived.wait(TIMEOUT_S):
        raise SystemExit(f"the marker published on {host} never arrived")
    publisher.disconnect()
    subscriber.disconnect()
    print(retained_payloads[-1] if retained_payloads else "")
    return 0


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "relay":
        return relay(args[0], args[1], int(args[2]))
    if command == "retain":
        return retain(*args)
    if command == "retained":
        return retained(*args)
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
