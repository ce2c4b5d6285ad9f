#!/usr/bin/env bash
# Local Apache Kafka 4 in KRaft mode: one process that is both broker and controller, on
# 127.0.0.1 only. Jars come from Maven Central through infra/kafka/pom.xml (pinned versions)
# into $KAFKA_DIR/lib; storage is formatted once with a generated cluster id.
# Listeners:
#   PLAINTEXT  127.0.0.1:$HANDOFF_KAFKA_PORT             development and tests
#   SASL_SSL   127.0.0.1:$HANDOFF_KAFKA_SASL_PORT        SCRAM-SHA-512, certificate signed by the
#                                                        CA in $KAFKA_DIR/tls/ca.crt (TLS tests)
#   CONTROLLER 127.0.0.1:$HANDOFF_KAFKA_CONTROLLER_PORT  KRaft quorum, not for clients
# Usage: infra/kafka.sh {install|start|stop|status}
# HANDOFF_KAFKA_DIR=DIR runs a private broker instead (bench, chaos and broker-restart tests):
# its data, config, certificates, pid file and log all live in DIR, and it needs ports of its own
# (HANDOFF_KAFKA_PORT, HANDOFF_KAFKA_SASL_PORT, HANDOFF_KAFKA_CONTROLLER_PORT).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POM="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka/pom.xml"
PORT="$HANDOFF_KAFKA_PORT"
SASL_PORT="$HANDOFF_KAFKA_SASL_PORT"
CONTROLLER_PORT="$HANDOFF_KAFKA_CONTROLLER_PORT"
# The jars are the same for every broker of this checkout: private ones share them.
LIB_DIR="$HANDOFF_RUN_DIR/kafka/lib"
if [[ -n ${HANDOFF_KAFKA_DIR:-} ]]; then
  KAFKA_DIR=$HANDOFF_KAFKA_DIR NAME="kafka (private, $HANDOFF_KAFKA_DIR)"
  PIDFILE="$KAFKA_DIR/kafka.pid" LOG="$KAFKA_DIR/kafka.log"
else
  KAFKA_DIR="$HANDOFF_RUN_DIR/kafka" NAME=kafka
  PIDFILE="$PID_DIR/kafka.pid" LOG="$LOG_DIR/kafka.log"
fi
TLS_DIR="$KAFKA_DIR/tls"
# Development credentials of the SASL_SSL listener (tests read the same values).
SCRAM_USER=handoff
SCRAM_PASSWORD=handoff-dev-secret
KEYSTORE_PASSWORD=handoff-dev-keystore
# Modest heap: a 2-core machine, and the chaos and bench runs start a second broker.
HEAP="${HANDOFF_KAFKA_HEAP:-768m}"

need() { command -v "$1" >/dev/null || die "$1 not found: $2"; }

# Kafka's own class, so our_pid recognises the JVM by a word of its command line.
MAIN=kafka.Kafka

kafka_java() { java -Xmx256m -cp "$LIB_DIR/*" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" "$@"; }

install() {
  need java "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
  need mvn "install Maven (Debian: apt-get install maven); it fetches Kafka's jars from Maven Central"
  mkdir -p "$HANDOFF_RUN_DIR"
  # Tests start private brokers in parallel: one fetch at a time. (A subshell, so the lock's
  # descriptor is not inherited by the broker this script starts afterwards.)
  (
    flock 9
    stamp="$LIB_DIR/.pom.sha256"
    sum=$(sha256sum "$POM" | cut -d' ' -f1)
    if [[ -f $stamp && $(<"$stamp") == "$sum" ]]; then
      say "kafka jars already in $LIB_DIR"; exit 0
    fi
    say "fetching Kafka's jars from Maven Central ($POM -> $LIB_DIR)"
    rm -rf "$LIB_DIR.tmp" && mkdir -p "$LIB_DIR.tmp"
    mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$LIB_DIR.tmp" >"$LIB_DIR.tmp/mvn.log" 2>&1 || {
      tail -n 30 "$LIB_DIR.tmp/mvn.log" >&2
      die "mvn could not fetch Kafka's jars from Maven Central (log above)"
    }
    rm -f "$LIB_DIR.tmp/mvn.log"
    rm -rf "$LIB_DIR" && mv "$LIB_DIR.tmp" "$LIB_DIR"
    echo "$sum" >"$stamp"
  ) 9>"$HANDOFF_RUN_DIR/kafka-install.lock" || exit 1
}

# A CA and a broker certificate for 127.0.0.1/localhost signed by it, as a PKCS12 keystore.
# Made once; clients trust $TLS_DIR/ca.crt.
make_tls() {
  [[ -s $TLS_DIR/broker.p12 ]] && return
  need openssl "install openssl (Debian: apt-get install openssl)"
  say "making a development CA and broker certificate in $TLS_DIR"
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=handoff dev CA" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout broker.key -out broker.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile broker.ext -out broker.crt 2>/dev/null
    openssl pkcs12 -export -in broker.crt -inkey broker.key -certfile ca.crt -name broker \
      -passout "pass:$KEYSTORE_PASSWORD" -out broker.p12.tmp
    mv broker.p12.tmp broker.p12
  ) || die "could not make the development certificates in $TLS_DIR"
}

# Rewritten on every start, so changed ports take effect (the storage keeps its cluster id).
write_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<PROPS
# Written by infra/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SASL_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SASL_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data

sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$KEYSTORE_PASSWORD
ssl.key.password=$KEYSTORE_PASSWORD

# One broker: internal topics cannot be replicated, and tests should not wait for rebalances.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
# Topics are created explicitly by the workers and tests (as in production).
auto.create.topics.enable=false
# Compacted topics (the detector's changelog) are cleaned promptly in tests.
log.cleaner.backoff.ms=1000
log.segment.bytes=16777216
PROPS
  cat >"$KAFKA_DIR/log4j2.properties" <<'LOG4J'
# Broker log on stdout (the script appends it to .run/logs); INFO for the broker itself, WARN
# for the chatty request, state-change and cleaner loggers.
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
LOG4J
}

# Formats the storage once: a new cluster id, this node as the only controller (standalone),
# and the SCRAM credential of the SASL_SSL listener.
format_storage() {
  [[ -s $KAFKA_DIR/data/meta.properties ]] && return
  local cluster_id
  cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$LOG" | tail -n 1)
  [[ -n $cluster_id ]] || die "could not generate a cluster id; see $LOG"
  say "formatting Kafka storage $KAFKA_DIR/data (cluster $cluster_id)"
  kafka_java kafka.tools.StorageTool format --standalone --ignore-formatted \
    --cluster-id "$cluster_id" --config "$KAFKA_DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" >>"$LOG" 2>&1 ||
    die "formatting Kafka storage failed; see $LOG"
}

# The broker is serving once it logged that it started, after the given log line.
started_since() { tail -n "+$1" "$LOG" 2>/dev/null | grep -q 'Kafka Server started' && port_open "$PORT"; }

start() {
  local pid t0=$SECONDS from
  if pid=$(our_pid "$PIDFILE" "$MAIN"); then
    say "$NAME already running (pid $pid) on 127.0.0.1:$PORT"; return
  fi
  drop_stale "$PIDFILE" "$MAIN"
  local p
  for p in "$PORT" "$SASL_PORT" "$CONTROLLER_PORT"; do
    port_open "$p" && die "127.0.0.1:$p is taken by a process we did not start; stop it or choose other ports (HANDOFF_KAFKA_PORT)"
  done
  install
  mkdir -p "$KAFKA_DIR" "$(dirname "$LOG")"
  touch "$LOG"
  make_tls
  write_config
  format_storage
  from=$(($(wc -l <"$LOG") + 1))
  say "starting $NAME (Apache Kafka, KRaft) on 127.0.0.1:$PORT, SASL_SSL $SASL_PORT (log $LOG)"
  spawn "$PIDFILE" "$LOG" java "-Xms256m" "-Xmx$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$LIB_DIR/*" "$MAIN" "$KAFKA_DIR/server.properties"
  wait_ready "$MAIN" "$PIDFILE" "$LOG" 120 started_since "$from"
  say "$NAME ready in $((SECONDS - t0))s (pid $(<"$PIDFILE"))"
}

# A controlled shutdown of a single node takes a few seconds; give it time before SIGKILL.
stop() { stop_pid "$MAIN" "$PIDFILE" 30; }
status() { status_pid "$MAIN" "$PIDFILE"; }

case "${1:-}" in
  install | start | stop | status) "$1" ;;
  *) die "usage: $0 {install|start|stop|status}" ;;
esac
