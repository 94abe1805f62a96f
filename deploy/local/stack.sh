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
#   ACCRUE_STACK_KAFKA_PORT       (19092, plain; the controller takes the
#                                  next port, the SASL_SSL listener the one
#                                  after: 19094)
#   ACCRUE_STACK_CLICKHOUSE_PORT  (19000, native protocol; its TLS port is
#                                  this plus 440: 19440)
#   ACCRUE_STACK_CLICKHOUSE_HTTP  (18123)
#   ACCRUE_STACK_DIR              (<repo>/.stack)
#
# Besides the plain listeners every test uses, both servers have a secured
# one, for the security tests and for trying accrue's client settings:
# Kafka SASL_SSL with SCRAM-SHA-512 (and -256), ClickHouse's native protocol
# over TLS with a user that has a password. The script makes a private CA
# and a server certificate for 127.0.0.1/localhost and random passwords,
# kept under <stack>/secrets (mode 0700, files 0600) and reused by later
# runs; `env` prints where they are, never the passwords themselves.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
stack=${ACCRUE_STACK_DIR:-$repo/.stack}
kafka_port=${ACCRUE_STACK_KAFKA_PORT:-19092}
controller_port=$((kafka_port + 1))
kafka_secure_port=$((kafka_port + 2))
ch_port=${ACCRUE_STACK_CLICKHOUSE_PORT:-19000}
ch_http=${ACCRUE_STACK_CLICKHOUSE_HTTP:-18123}
ch_secure_port=$((ch_port + 440))
secrets=$stack/secrets
kafka_user=accrue
ch_user=accrue

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

# -------------------------------------------------------------- secrets --

# secrets_up: the CA, the servers' certificate and key, and the passwords,
# made once and kept. The server certificate names 127.0.0.1 and localhost.
secrets_up() {
  (umask 077 && mkdir -p "$secrets")
  chmod 700 "$secrets"
  command -v openssl >/dev/null || apt_install openssl
  local pw
  for pw in kafka clickhouse; do
    [ -s "$secrets/$pw.password" ] || (umask 077 && openssl rand -hex 24 >"$secrets/$pw.password")
  done
  [ -s "$secrets/kafka.user" ] || echo "$kafka_user" >"$secrets/kafka.user"
  [ -s "$secrets/clickhouse.user" ] || echo "$ch_user" >"$secrets/clickhouse.user"
  if [ -s "$secrets/ca.pem" ] && [ -s "$secrets/server-keystore.pem" ]; then return; fi
  log "making a CA and a server certificate for 127.0.0.1 in $secrets"
  cat >"$secrets/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = accrue local stack CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
EOF
  (
    umask 077
    cd "$secrets"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -days 3650 -config openssl.cnf -extensions ca -out ca.pem
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out server.key 2>/dev/null
    openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile openssl.cnf -extensions server -out server.pem 2>/dev/null
    # Kafka reads a PEM keystore: the unencrypted PKCS#8 key, then the chain.
    cat server.key server.pem >server-keystore.pem
    rm -f server.csr ca.srl
  )
  chmod 644 "$secrets/ca.pem"
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
  if alive "$kafka_pid"; then
    log "kafka already running (pid $(cat "$kafka_pid"))"
    # A broker started before the secured listener existed keeps running
    # without it until it is restarted (down, then up).
    if kafka_secured; then kafka_scram_user; fi
    return 0
  fi
  port_open "$kafka_port" && die "port $kafka_port is taken by another process; set ACCRUE_STACK_KAFKA_PORT"
  port_open "$kafka_secure_port" && die "port $kafka_secure_port (SASL_SSL) is taken by another process; set ACCRUE_STACK_KAFKA_PORT"
  secrets_up
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  kafka_jars
  mkdir -p "$kafka_dir"
  local props=$kafka_dir/server.properties data=$kafka_dir/data
  cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,SASL_SSL://127.0.0.1:$kafka_secure_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port,SASL_SSL://127.0.0.1:$kafka_secure_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
# The secured listener: TLS with the stack's certificate, then SCRAM.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$secrets/server-keystore.pem
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
  kafka_scram_user
}

# kafka_secured: true when the running broker was started with the SASL_SSL
# listener (one started by an older version of this script was not).
kafka_secured() {
  alive "$kafka_pid" && grep -q "^listeners=.*SASL_SSL://127.0.0.1:$kafka_secure_port" "$kafka_dir/server.properties" 2>/dev/null
}

# kafka_scram_user: creates or updates the SCRAM user through the plain
# listener, once per cluster and password (a new data folder gets it again).
kafka_scram_user() {
  local cluster want
  cluster=$(sed -n 's/^cluster.id=//p' "$kafka_dir/data/meta.properties" 2>/dev/null)
  want="$cluster $(sha256sum "$secrets/kafka.password" | cut -c1-16)"
  if [ -f "$kafka_dir/scram.done" ] && [ "$(cat "$kafka_dir/scram.done")" = "$want" ]; then return; fi
  log "creating SCRAM user $kafka_user"
  local pw
  pw=$(cat "$secrets/kafka.password")
  printf 'rootLogger.level=WARN\nrootLogger.appenderRef.err.ref=err\nappender.err.type=Console\nappender.err.name=err\nappender.err.target=SYSTEM_ERR\nappender.err.layout.type=PatternLayout\nappender.err.layout.pattern=%%p %%m%%n\n' \
    >"$kafka_dir/tools-log4j2.properties"
  # The password is on this one command line for a moment (ConfigCommand
  # reads SCRAM credentials from no file); it is the stack's own, for tests.
  # One request per mechanism: the broker refuses two for a user at once.
  local mech
  for mech in SCRAM-SHA-512 SCRAM-SHA-256; do
    java -cp "$kafka_dir/libs/*" -Dlog4j2.configurationFile="$kafka_dir/tools-log4j2.properties" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$kafka_port" --alter --entity-type users --entity-name "$kafka_user" \
      --add-config "$mech=[password=$pw]" 2>&1 | sed "s/$pw/[redacted]/g" >&2 \
      || die "could not create the SCRAM user ($mech)"
  done
  echo "$want" >"$kafka_dir/scram.done"
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
  port_open "$ch_secure_port" && die "port $ch_secure_port (TLS) is taken by another process; set ACCRUE_STACK_CLICKHOUSE_PORT"
  command -v clickhouse-server >/dev/null || apt_install clickhouse-server clickhouse-client
  secrets_up
  local ch_hash
  ch_hash=$(tr -d '\n' <"$secrets/clickhouse.password" | sha256sum | cut -d' ' -f1)
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
  <tcp_port_secure>$ch_secure_port</tcp_port_secure>
  <http_port>$ch_http</http_port>
  <openSSL>
    <server>
      <certificateFile>$secrets/server.pem</certificateFile>
      <privateKeyFile>$secrets/server.key</privateKeyFile>
      <verificationMode>none</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>
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
    <$ch_user>
      <password_sha256_hex>$ch_hash</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </$ch_user>
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

# ch_secured: true when the running ClickHouse was started with the TLS
# port and the user with a password.
ch_secured() {
  alive "$ch_pid" && grep -q "<tcp_port_secure>$ch_secure_port<" "$ch_dir/config.xml" 2>/dev/null
}

# print_env: the plain addresses every test uses, then the secured ones
# under names of their own (ACCRUE_STACK_*), so that no accrue process
# turns TLS or SASL on by accident. Secrets are named by their files.
print_env() {
  alive "$kafka_pid" && echo "export ACCRUE_KAFKA_BROKERS=127.0.0.1:$kafka_port"
  alive "$ch_pid" && echo "export ACCRUE_CLICKHOUSE_ADDR=127.0.0.1:$ch_port"
  if kafka_secured || ch_secured; then
    echo "export ACCRUE_STACK_TLS_CA_FILE=$secrets/ca.pem"
  fi
  if kafka_secured; then
    echo "export ACCRUE_STACK_KAFKA_SECURE_BROKERS=127.0.0.1:$kafka_secure_port"
    echo "export ACCRUE_STACK_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
    echo "export ACCRUE_STACK_KAFKA_SASL_USER=$kafka_user"
    echo "export ACCRUE_STACK_KAFKA_SASL_PASSWORD_FILE=$secrets/kafka.password"
  fi
  if ch_secured; then
    echo "export ACCRUE_STACK_CLICKHOUSE_SECURE_ADDR=127.0.0.1:$ch_secure_port"
    echo "export ACCRUE_STACK_CLICKHOUSE_USER=$ch_user"
    echo "export ACCRUE_STACK_CLICKHOUSE_PASSWORD_FILE=$secrets/clickhouse.password"
  fi
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
    if alive "$kafka_pid"; then
      echo "kafka: running (pid $(cat "$kafka_pid")) on 127.0.0.1:$kafka_port$(kafka_secured && echo ", SASL_SSL on 127.0.0.1:$kafka_secure_port")"
    else echo "kafka: stopped"; fi
    if alive "$ch_pid"; then
      echo "clickhouse: running (pid $(cat "$ch_pid")) on 127.0.0.1:$ch_port$(ch_secured && echo ", TLS on 127.0.0.1:$ch_secure_port")"
    else echo "clickhouse: stopped"; fi
    ;;
  env) print_env ;;
  *) die "usage: $0 up [kafka] [clickhouse] | down | status | env" ;;
esac
