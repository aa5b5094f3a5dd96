#!/usr/bin/env bash
# Makes sure the services the integration tests use answer on 127.0.0.1.
# Starts a service that is installed but stopped; says so when it is not installed.
set -u

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # port, name, seconds
  for _ in $(seq 1 "$3"); do answers "$1" && { echo "$2 answers on 127.0.0.1:$1"; return 0; }; sleep 1; done
  echo "$2 did not answer on 127.0.0.1:$1 after $3 s" >&2
  return 1
}

if ! answers 5672; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    wait_for 5672 RabbitMQ 60 || true
    # The port opens before every plugin has booted; wait for the broker itself.
    timeout 60 rabbitmqctl await_startup >/dev/null 2>&1 || true
  else
    echo "RabbitMQ is not installed; its tests will skip (and fail under CI=true)" >&2
  fi
else
  echo "RabbitMQ answers on 127.0.0.1:5672"
fi

if ! answers 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_for 5432 PostgreSQL 30 || true
  else
    echo "PostgreSQL is not installed; its tests will skip (and fail under CI=true)" >&2
  fi
else
  echo "PostgreSQL answers on 127.0.0.1:5432"
fi
exit 0
