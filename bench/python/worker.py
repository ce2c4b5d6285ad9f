"""Python baseline worker: consume -> decode (Avro, Confluent wire format) -> detect an
explicit request for a human (one regex) -> encode -> produce, with confluent-kafka and
fastavro. One hop of what the Rust pipeline does in three; `bench/run.sh` measures it with
`handoff load --mode passthrough --hops 1` (it copies the `bench.seq` header, as the Rust
relay does).

Delivery discipline as close to the Rust workers as the Python client allows: offsets are
stored only after the produced record is acknowledged (enable.auto.offset.store=false,
store_offsets from the delivery callback), auto-commit flushes them.
"""
import argparse
import io
import json
import re
import signal
import struct
import sys
import urllib.request

import fastavro
from confluent_kafka import Consumer, Producer

EXPLICIT = re.compile(
    r"\b(talk|speak|chat)\s+(to|with)\s+(a|an|some|the)?\s*(person|human|agent|manager|someone)\b"
    r"|\b(get|give)\s+me\s+(a|an|the)\s+(person|human|manager)\b"
    r"|\bhablar\s+con\s+una\s+persona\b|\bmit\s+einem\s+menschen\b",
    re.IGNORECASE,
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--sink", required=True)
    ap.add_argument("--group", required=True)
    args = ap.parse_args()

    schemas = {}

    def schema(schema_id):
        s = schemas.get(schema_id)
        if s is None:
            with urllib.request.urlopen(f"{args.registry}/schemas/ids/{schema_id}") as r:
                text = json.load(r)["schema"]
            s = fastavro.parse_schema(json.loads(text))
            schemas[schema_id] = s
        return s

    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 1000,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 50,
        "session.timeout.ms": 45000,  # as bench/bench.toml
        # As the Rust consumers: the source topic may not exist yet when we subscribe, and
        # librdkafka's default would look again only after 5 minutes.
        "topic.metadata.refresh.interval.ms": 2000,
    })
    producer = Producer({
        "bootstrap.servers": args.brokers,
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 200000,
    })
    consumer.subscribe([args.source])
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    flagged = 0
    print(f"python worker {args.source} -> {args.sink} started", file=sys.stderr, flush=True)
    while running:
        msgs = consumer.consume(num_messages=500, timeout=0.1)
        for m in msgs:
            if m.error():
                continue
            raw = m.value()
            magic, schema_id = struct.unpack(">bI", raw[:5])
            s = schema(schema_id)
            event = fastavro.schemaless_reader(io.BytesIO(raw[5:]), s, s)
            if event.get("actor") == "contact" and EXPLICIT.search(event.get("text") or ""):
                flagged += 1
                event.setdefault("attributes", {})["handoff.explicit_request"] = "true"
            out = io.BytesIO()
            out.write(struct.pack(">bI", 0, schema_id))
            fastavro.schemaless_writer(out, s, event)
            topic, partition, offset = m.topic(), m.partition(), m.offset()

            def acked(err, _msg, topic=topic, partition=partition, offset=offset):
                if err is None:
                    from confluent_kafka import TopicPartition
                    consumer.store_offsets(offsets=[TopicPartition(topic, partition, offset + 1)])

            while True:
                try:
                    producer.produce(args.sink, key=m.key(), value=out.getvalue(), headers=m.headers(), on_delivery=acked)
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
    producer.flush(10)
    consumer.close()
    print(f"python worker stopped; {flagged} explicit requests flagged", file=sys.stderr)


if __name__ == "__main__":
    main()
