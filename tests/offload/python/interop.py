"""A recipient and a producer for warren's offload pipeline written only with
boto3, pika and jsonschema, as a team in another language would write them
from docs/offload-pointer-v1.schema.json.

    interop.py recipient NAME COUNT   consume COUNT pointers addressed to NAME
    interop.py producer RECIPIENTS COUNT SIZE   store and announce COUNT payloads

Connections come from the same environment variables warren's programs read.
Each handled message prints one JSON line.
"""
import base64
import datetime
import hashlib
import json
import os
import sys
import uuid

import boto3
import jsonschema
import pika
from botocore.config import Config

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "offload-pointer-v1.schema.json")
POINTER_TYPE = "application/vnd.warren.offload.pointer.v1+json"
ACK_TYPE = "application/vnd.warren.offload.ack.v1+json"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def s3_client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["WARREN_S3_ENDPOINT"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def channel():
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["WARREN_AMQP_URI"].split(",")[0]))
    return connection, connection.channel()


def recipient(name, count):
    pipeline = os.environ["WARREN_OFFLOAD_PIPELINE"]
    schema = json.load(open(SCHEMA_PATH))
    ack_schema = dict(schema["$defs"]["ack"], **{"$schema": schema["$schema"]})
    s3 = s3_client()
    connection, ch = channel()
    ch.confirm_delivery()
    queue = f"{pipeline}.recipient.{name}"
    handled = 0
    for method, properties, body in ch.consume(queue, inactivity_timeout=120):
        if method is None:
            sys.exit("no pointer within 120 s")
        pointer = json.loads(body)
        jsonschema.validate(pointer, schema)  # warren's pointer matches its published schema
        assert properties.content_type == POINTER_TYPE, properties.content_type
        if name not in pointer["recipients"]:
            ch.basic_ack(method.delivery_tag)
            continue
        if "inline" in pointer:
            data = base64.b64decode(pointer["inline"])
        else:
            data = s3.get_object(Bucket=pointer["storage"]["bucket"], Key=pointer["storage"]["key"])["Body"].read()
        ok = len(data) == pointer["size"] and hashlib.sha256(data).hexdigest() == pointer["sha256"]
        ack = {"version": 1, "message_id": pointer["message_id"], "recipient": name, "ok": ok,
               "sha256_verified": ok, "acked_at": now()}
        if not ok:
            ack["detail"] = "sha256 mismatch"
        jsonschema.validate(ack, ack_schema)
        ch.basic_publish("", f"{pipeline}.acks", json.dumps(ack),
                         pika.BasicProperties(content_type=ACK_TYPE, delivery_mode=2), mandatory=True)
        ch.basic_ack(method.delivery_tag)
        print(json.dumps({"message_id": pointer["message_id"], "ok": ok}), flush=True)
        handled += 1
        if handled == count:
            break
    connection.close()


def producer(recipients, count, size):
    pipeline = os.environ["WARREN_OFFLOAD_PIPELINE"]
    bucket = os.environ["WARREN_S3_BUCKET"]
    s3 = s3_client()
    connection, ch = channel()
    ch.confirm_delivery()
    for _ in range(count):
        message_id = "py-" + uuid.uuid4().hex
        data = os.urandom(size)
        key = f"{pipeline}/{message_id}"
        s3.put_object(Bucket=bucket, Key=key, Body=data)  # stored before it is announced
        pointer = {"version": 1, "message_id": message_id, "producer": "python",
                   "storage": {"bucket": bucket, "key": key}, "size": len(data),
                   "sha256": hashlib.sha256(data).hexdigest(), "content_type": "application/octet-stream",
                   "compression": "none", "recipients": sorted(recipients), "recipients_total": len(recipients),
                   "created_at": now()}
        ch.basic_publish(f"{pipeline}.pointers", "", json.dumps(pointer),
                         pika.BasicProperties(content_type=POINTER_TYPE, delivery_mode=2, message_id=message_id),
                         mandatory=True)
        print(json.dumps({"message_id": message_id, "key": key, "sha256": pointer["sha256"]}), flush=True)
    connection.close()


if __name__ == "__main__":
    if sys.argv[1] == "recipient":
        recipient(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "producer":
        producer(sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
