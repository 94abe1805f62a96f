#!/usr/bin/env bash
# Local stack for development, tests and the demo: a real Apache Kafka 4.x
# (single KRaft node) and a real ClickHouse, both plain processes on
# loopback, with everything they download or write kept under .stack/ in the
# repository (ignored by git).
#
#   deploy/local/stack.sh up [kafka] [clickhouse]   start (default: both)
#   deploy/local/stack.sh down                      stop what this script started
#   deploy/local/stack.sh status                    say what runs, and where
#   deploy/local/stack.sh env                       print the export lines
#
# Idempotent: `up` on a running stack only prints the exports again. Missing
# tools (Java, Maven, clickhouse-server) are installed with apt-get; the
# Kafka jars are resolved from Maven Central by deploy/local/kafka/pom.xml.
# Ports avoid the defaults of a system install (9092, 9000, 8123):
#   ACCRUE_STACK_KAFKA_PORT       (19092; the controller takes the next port)
#   ACCRUE_STACK_CLICKHOUSE_PORT  (19000, native protocol)
#   ACCRUE_STACK_CLICKHOUSE_HTTP  (18123)
#   ACCRUE_STACK_DIR              (<repo>/.stack)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
stack=${ACCRUE_STACK_DIR:-$repo/.stack}
kafka_port=${ACCRUE_STACK_KAFKA_PORT:-19092}
controller_port=$((kafka_port + 1))
ch_port=${ACCRUE_STACK_CLICKHOUSE_PORT:-19000}
ch_http=${ACCRUE_STACK_CLICKHOUSE_HTTP:-18123}

LOG_PREFIX=stack
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# alive PIDFILE: true when the pid file names a running process.
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
  log "$what is up"
}

# ---------------------------------------------------------------- Kafka --

kafka_dir=$stack/kafka
kafka_pid=$kafka_dir/kafka.pid

kafka_jars() {
  local libs=$kafka_dir/libs stamp
  stamp=$(sha256sum "$here/kafka/pom.xml" | cut -c1-16)
  if [ -f "$libs/.stamp" ] && [ "$(cat "$libs/.stamp")" = "$stamp" ]; then return; fi
  command -v mvn >/dev/null || apt_install maven
  log "resolving Kafka jars from Maven Central"
  rm -rf "$libs"
  mvn -q -B -f "$here/kafka/pom.xml" \
    -Dmaven.repo.local="$stack/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2 \
    || die "mvn could not resolve the Kafka jars (see above)"
  echo "$stamp" >"$libs/.stamp"
}

kafka_up() {
  if alive "$kafka_pid"; then log "kafka already running (pid $(cat "$kafka_pid"))"; return; fi
  port_open "$kafka_port" && die "port $kafka_port is taken by another process; set ACCRUE_STACK_KAFKA_PORT"
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  kafka_jars
  mkdir -p "$kafka_dir"
  local props=$kafka_dir/server.properties data=$kafka_dir/data
  cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
# Abort the open transaction of a killed process soon after its timeout, so
# that a partition's next owner does not wait long (crash tests rely on it).
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
log.cleaner.backoff.ms=1000
EOF
  cat >"$kafka_dir/log4j2.properties" <<EOF
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$kafka_dir/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.apache.name=org.apache.kafka
logger.apache.level=WARN
EOF
  local cp="$kafka_dir/libs/*" java_opts=(-Xms512m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$kafka_dir/log4j2.properties")
  if [ ! -f "$data/meta.properties" ]; then
    local id
    id=$(java -cp "$cp" "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
    log "formatting KRaft storage (cluster $id)"
    java -cp "$cp" "${java_opts[@]}" kafka.tools.StorageTool format -t "$id" -c "$props" >&2
  fi
  log "starting kafka on 127.0.0.1:$kafka_port"
  nohup java -cp "$cp" "${java_opts[@]}" kafka.Kafka "$props" </dev/null >"$kafka_dir/stdout.log" 2>&1 &
  echo $! >"$kafka_pid"
  if ! wait_for 120 "kafka (127.0.0.1:$kafka_port)" kafka_ready; then
    tail -n 30 "$kafka_dir/stdout.log" "$kafka_dir/server.log" >&2 || true
    die "kafka did not come up within 120s"
  fi
}

kafka_ready() {
  alive "$kafka_pid" || { tail -n 30 "$kafka_dir/stdout.log" >&2; die "kafka exited"; }
  port_open "$kafka_port" && grep -q "Kafka Server started\|\[KafkaRaftServer nodeId=1\] Kafka Server started" "$kafka_dir/server.log" 2>/dev/null
}

# ----------------------------------------------------------- ClickHouse --

ch_dir=$stack/clickhouse
ch_pid=$ch_dir/clickhouse.pid

ch_up() {
  if alive "$ch_pid"; then log "clickhouse already running (pid $(cat "$ch_pid"))"; return; fi
  port_open "$ch_port" && die "port $ch_port is taken by another process; set ACCRUE_STACK_CLICKHOUSE_PORT"
  command -v clickhouse-server >/dev/null || apt_install clickhouse-server clickhouse-client
  mkdir -p "$ch_dir/data" "$ch_dir/tmp" "$ch_dir/user_files" "$ch_dir/format_schemas"
  cat >"$ch_dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$ch_dir/server.log</log>
    <errorlog>$ch_dir/server.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$ch_port</tcp_port>
  <http_port>$ch_http</http_port>
  <max_connections>256</max_connections>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$ch_dir/data/</path>
  <tmp_path>$ch_dir/tmp/</tmp_path>
  <user_files_path>$ch_dir/user_files/</user_files_path>
  <format_schema_path>$ch_dir/format_schemas/</format_schema_path>
  <users_config>$ch_dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
</yandex>
EOF
  cat >"$ch_dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
  log "starting clickhouse on 127.0.0.1:$ch_port (http $ch_http)"
  # A plain background process (not a subshell list), so that $! is the
  # server itself and the pid file names what `down` must stop.
  nohup clickhouse-server --config-file="$ch_dir/config.xml" </dev/null >"$ch_dir/stdout.log" 2>&1 &
  echo $! >"$ch_pid"
  if ! wait_for 60 "clickhouse (127.0.0.1:$ch_port)" ch_ready; then
    tail -n 30 "$ch_dir/stdout.log" "$ch_dir/server.err.log" >&2 || true
    die "clickhouse did not come up within 60s"
  fi
}

ch_ready() {
  alive "$ch_pid" || { tail -n 30 "$ch_dir/stdout.log" "$ch_dir/server.err.log" >&2 || true; die "clickhouse exited"; }
  clickhouse-client --host 127.0.0.1 --port "$ch_port" -q "SELECT 1" >/dev/null 2>&1
}

# --------------------------------------------------------------- verbs --

stop() { # stop NAME PIDFILE
  if alive "$2"; then
    local pid; pid=$(cat "$2")
    log "stopping $1 (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "$1 did not stop in 30s; killing"; kill -9 "$pid"; }
  fi
  rm -f "$2"
}

print_env() {
  alive "$kafka_pid" && echo "export ACCRUE_KAFKA_BROKERS=127.0.0.1:$kafka_port"
  alive "$ch_pid" && echo "export ACCRUE_CLICKHOUSE_ADDR=127.0.0.1:$ch_port"
  return 0
}

cmd=${1:-status}; shift || true
case $cmd in
  up)
    want=("$@"); [ ${#want[@]} -gt 0 ] || want=(kafka clickhouse)
    mkdir -p "$stack"
    for w in "${want[@]}"; do
      case $w in
        kafka) kafka_up ;;
        clickhouse) ch_up ;;
        *) die "unknown component '$w' (kafka, clickhouse)" ;;
      esac
    done
    print_env
    ;;
  down)
    stop kafka "$kafka_pid"
    stop clickhouse "$ch_pid"
    ;;
  status)
    if alive "$kafka_pid"; then echo "kafka: running (pid $(cat "$kafka_pid")) on 127.0.0.1:$kafka_port"; else echo "kafka: stopped"; fi
    if alive "$ch_pid"; then echo "clickhouse: running (pid $(cat "$ch_pid")) on 127.0.0.1:$ch_port"; else echo "clickhouse: stopped"; fi
    ;;
  env) print_env ;;
  *) die "usage: $0 up [kafka] [clickhouse] | down | status | env" ;;
esac
