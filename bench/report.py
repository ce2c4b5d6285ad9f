"""Turns the run summaries of bench/run.sh (JSON lines from `handoff load`), the auditor bench
output and, when present, criterion's estimates and the state-size bench into one table.
Prints it and writes it as Markdown with the machine it ran on."""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess

ap = argparse.ArgumentParser()
ap.add_argument("--runs", required=True)
ap.add_argument("--cpu")
ap.add_argument("--audit")
ap.add_argument("--state")
ap.add_argument("--conversations")
ap.add_argument("--turns")
ap.add_argument("--md", required=True)
a = ap.parse_args()

runs = {}
for line in open(a.runs):
    r = json.loads(line)
    runs[r["label"]] = r
if a.cpu and os.path.exists(a.cpu):
    for line in open(a.cpu):
        c = json.loads(line)
        if c["label"] in runs:
            runs[c["label"]]["cpu"] = c


def cpu_us(r, k):
    """CPU microseconds per input event of the run's workers (k=worker_cpu_s) or broker."""
    c = r.get("cpu") if r else None
    return c[k] / r["events"] * 1e6 if c and r["events"] else None


def us(x):
    return f"{x:.0f}" if x is not None else "-"


def machine():
    cpu = "?"
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for l in open("/proc/meminfo"):
            if l.startswith("MemTotal"):
                mem = f"{int(l.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({cpu}), {mem} RAM, {platform.system()} {platform.release()}, "
            f"load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


def crit(path, elements):
    """Elements per second from criterion's mean estimate, if the bench ran."""
    p = os.path.join("target", "criterion", path, "new", "estimates.json")
    try:
        ns = json.load(open(p))["mean"]["point_estimate"]
        return elements / (ns / 1e9)
    except (OSError, KeyError, ValueError):
        return None


def lat(r, k):
    return r["latency"][k] if r else float("nan")


rows = []  # (figure, value, baseline / target, verdict)


def ok(b):
    return "meets" if b else "misses"


pp, ph = runs.get("pipeline-peak"), runs.get("pipeline-half")
tp, th = runs.get("passthrough-peak"), runs.get("passthrough-half")
py = runs.get("python-peak")
if pp:
    rows.append(("pipeline throughput, full speed (events/s)", f"{pp['events_per_s']:.0f}",
                 f"passthrough {tp['events_per_s']:.0f}; target >= 0.9x" if tp else "-",
                 f"{pp['events_per_s'] / tp['events_per_s']:.2f}x, {ok(pp['events_per_s'] >= 0.9 * tp['events_per_s'])}" if tp else ""))
    rows.append(("pipeline latency at full speed p50/p90/p99/max (ms)",
                 f"{lat(pp, 'p50_ms'):.0f} / {lat(pp, 'p90_ms'):.0f} / {lat(pp, 'p99_ms'):.0f} / {lat(pp, 'max_ms'):.0f}",
                 f"passthrough {lat(tp, 'p50_ms'):.0f} / {lat(tp, 'p90_ms'):.0f} / {lat(tp, 'p99_ms'):.0f} / {lat(tp, 'max_ms'):.0f}" if tp else "-",
                 "queueing: everything is offered at once"))
if ph:
    rows.append((f"pipeline at half peak ({ph['target_rate']:.0f} ev/s offered): throughput", f"{ph['events_per_s']:.0f}",
                 f"passthrough {th['events_per_s']:.0f} at the same rate" if th else "-", ""))
    rows.append(("pipeline latency at half peak p50/p90/p99/max (ms)",
                 f"{lat(ph, 'p50_ms'):.0f} / {lat(ph, 'p90_ms'):.0f} / {lat(ph, 'p99_ms'):.0f} / {lat(ph, 'max_ms'):.0f}",
                 (f"passthrough {lat(th, 'p50_ms'):.0f} / {lat(th, 'p90_ms'):.0f} / {lat(th, 'p99_ms'):.0f} / {lat(th, 'max_ms'):.0f}; target p99 <= 1.5x") if th else "-",
                 f"p99 {lat(ph, 'p99_ms') / lat(th, 'p99_ms'):.2f}x, {ok(lat(ph, 'p99_ms') <= 1.5 * lat(th, 'p99_ms'))}" if th else ""))
if py and pp:
    rows.append(("Python baseline, 1 hop (events/s)", f"{py['events_per_s']:.0f}",
                 "target: pipeline >= 10x", f"pipeline {pp['events_per_s'] / py['events_per_s']:.1f}x, {ok(pp['events_per_s'] >= 10 * py['events_per_s'])}"))
if pp and cpu_us(pp, "worker_cpu_s") is not None:
    base = []
    if tp and cpu_us(tp, "worker_cpu_s") is not None:
        base.append(f"passthrough (3 relays) {us(cpu_us(tp, 'worker_cpu_s'))}")
    if py and cpu_us(py, "worker_cpu_s") is not None:
        base.append(f"Python (1 hop) {us(cpu_us(py, 'worker_cpu_s'))}")
    ratio = ""
    if py and cpu_us(py, "worker_cpu_s"):
        ratio = f"Python / pipeline = {cpu_us(py, 'worker_cpu_s') / cpu_us(pp, 'worker_cpu_s'):.1f}x"
    rows.append(("worker CPU per event at full speed (us, all 4 workers together)", us(cpu_us(pp, "worker_cpu_s")),
                 "; ".join(base) or "-", ratio))
    if cpu_us(pp, "broker_cpu_s") is not None:
        rows.append(("broker CPU per event at full speed (us)", us(cpu_us(pp, "broker_cpu_s")),
                     f"passthrough {us(cpu_us(tp, 'broker_cpu_s'))}; Python {us(cpu_us(py, 'broker_cpu_s'))}", ""))

det = crit("detector/events_mixed_200x12", 2400)
if det:
    rows.append(("detector events/s per core (criterion, full rule set)", f"{det:,.0f}", "target >= 500,000", ok(det >= 500_000)))
bld = crit("stages/builder_payload_16_turns", 1)
if bld:
    rows.append(("builder payloads/s per core (criterion, 16 turns)", f"{bld:,.0f}", "target >= 50,000", ok(bld >= 50_000)))
rtr = crit("stages/router_decision", 1)
if rtr:
    rows.append(("router decisions/s per core (criterion)", f"{rtr:,.0f}", "-", ""))

# Avro encode/decode per record, per schema (criterion bench `avro` of handoff-runtime).
avro_rows = []  # (schema, bytes, encode us, decode us)
crit_dir = os.path.join("target", "criterion")
if os.path.isdir(crit_dir):
    for d in sorted(os.listdir(crit_dir)):
        if not d.startswith("avro_"):
            continue
        times, size = {}, "?"
        for f in os.listdir(os.path.join(crit_dir, d)):
            m = re.match(r"(encode|decode)_(\d+)B$", f)
            if not m:
                continue
            size = m.group(2)
            try:
                est = json.load(open(os.path.join(crit_dir, d, f, "new", "estimates.json")))
                times[m.group(1)] = est["mean"]["point_estimate"] / 1000
            except (OSError, KeyError, ValueError):
                pass
        if times:
            avro_rows.append((d[len("avro_"):], size, times.get("encode"), times.get("decode")))
audit_lines = []
if a.audit and os.path.exists(a.audit):
    text = open(a.audit).read()
    audit_lines = [l.rstrip() for l in text.splitlines() if l.strip()]
    m_a = re.search(r"auditor write_records.*?best\s+[\d.]+ s =\s+(\d+) rows/s", text)
    m_c = re.search(r"raw COPY, bare table\s+best\s+[\d.]+ s =\s+(\d+) rows/s", text)
    m_r = re.search(r"auditor / raw COPY = ([\d.]+)x", text)
    if m_a and m_c:
        rows.append(("auditor rows/s (write_records, best of rounds)", m_a.group(1),
                     f"raw COPY {m_c.group(1)} rows/s; target >= 0.50x",
                     f"{m_r.group(1)}x, {ok(float(m_r.group(1)) >= 0.5)}" if m_r else ""))

state_lines = []
if a.state and os.path.exists(a.state):
    state_lines = [l.rstrip() for l in open(a.state) if l.strip()]
    for l in state_lines:
        parts = l.split()
        if len(parts) == 3 and parts[0] == "20":
            worst = max(int(parts[1]), int(parts[2]))
            rows.append(("detector state per open conversation at 20 turns (Avro / memory, bytes)",
                         f"{parts[1]} / {parts[2]}", "target <= 2048", ok(worst <= 2048)))

w = [max(len(r[i]) for r in rows + [("figure", "value", "baseline / target", "ratio")]) for i in range(4)]
hdr = ("figure", "value", "baseline / target", "ratio")
print()
for r in [hdr] + rows:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))

if avro_rows:
    print("\nAvro per record (us): " + ", ".join(f"{n} {size} B encode {e:.1f} / decode {dd:.1f}" for n, size, e, dd in avro_rows if e and dd))

commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
with open(a.md, "w") as f:
    f.write(f"# Benchmark results {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n\n")
    f.write(f"- machine: {machine()}\n")
    f.write(f"- commit: {commit} (`bench/run.sh`)\n")
    f.write(f"- load: {a.conversations} conversations x {a.turns} turns of mixed events (about 1 in 4 "
            "escalates: explicit request, legal threat, transfer_to_human tool call), plus one sentinel "
            "per events partition\n")
    f.write(f"- broker: {os.environ.get('BENCH_BROKER_DESC', 'Apache Kafka 4.1.1 (KRaft, one node), private to this run, on the same machine')}\n")
    f.write("- latency: from the triggering event handed to the producer to its RoutedHandoff read "
            "from the team topic (pipeline), or to the record read from the last relay topic "
            "(passthrough, every record timed)\n")
    f.write("- CPU: user + system time of the run's own processes (the 4 workers, the 3 relays or the "
            "Python worker; not the load generator) and of the broker during the run, per input event\n\n")
    f.write("| " + " | ".join(hdr) + " |\n|" + "---|" * 4 + "\n")
    for r in rows:
        f.write("| " + " | ".join(x.replace("|", "/") for x in r) + " |\n")
    f.write("\n## Runs\n\n| run | events | seconds | events/s | offered/s | arrived | p50 | p90 | p99 | max (ms) | worker / broker CPU us per event |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in runs.values():
        L = r["latency"]
        f.write(f"| {r['label']} ({r['mode']}, {r['hops']} hops) | {r['events']} | {r['seconds']} | {r['events_per_s']:.0f} | "
                f"{r['offered_rate']:.0f} | {r['arrived']}/{r['expected']} | {L['p50_ms']} | {L['p90_ms']} | {L['p99_ms']} | {L['max_ms']} | "
                f"{us(cpu_us(r, 'worker_cpu_s'))} / {us(cpu_us(r, 'broker_cpu_s'))} |\n")
    f.write("\n## Reading these figures\n\n"
            "- Every process here (broker, workers, load generator) shares the machine's cores, so the "
            "Kafka figures measure what each path asks of the broker as much as the workers.\n"
            "- The passthrough writes every event 4 times (input + 3 relays) and reads it back 3 times. "
            "The pipeline writes the input and, per run of queued events, one state record per "
            "conversation; only escalations travel further. That is why it is faster than the "
            "passthrough on this broker. The worker CPU per event is the comparison that does not "
            "depend on the broker.\n"
            "- The Python baseline is one hop (decode -> regex -> encode, every event forwarded).\n")
    if avro_rows:
        f.write("\n## Avro encode / decode per record\n\nserde to an Avro value and the datum, and back, "
                "as the codec does (the registry lookup is cached after start-up).\n\n"
                "| schema | bytes | encode (us) | decode (us) |\n|---|---|---|---|\n")
        for n, size, e, dd in avro_rows:
            f.write(f"| {n} | {size} | {e:.2f} | {dd:.2f} |\n")
    if audit_lines:
        f.write("\n## Auditor vs COPY\n\n```\n" + "\n".join(audit_lines) + "\n```\n")
    if state_lines:
        f.write("\n## Detector state size\n\n```\n" + "\n".join(state_lines) + "\n```\n")
