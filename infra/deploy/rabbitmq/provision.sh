#!/bin/sh
# Run once per `docker compose up` by the broker-init service: the platform's vhost, a broker
# user for each process (made, or its password set again from the env file, so a changed
# password takes effect on the next `up`), and the policy that keeps each classic queue on two
# nodes. Speaks to the cluster through rabbitmq-1 with the shared Erlang cookie.
set -eu
NODE=rabbit@rabbitmq-1
VHOST=${BROKER_VHOST:-liaison}
ctl() { rabbitmqctl --node "$NODE" --silent "$@"; }

ctl await_startup --timeout 120
if ! ctl list_vhosts name | grep -qx "$VHOST"; then
  ctl add_vhost "$VHOST"
fi

# <vhost>.<process>, as infra/launch.py names them; only feeds is an administrator (it makes
# the agencies' users through the management API).
for process in enterprise dispatch mediation appraisal fieldwork feeds gateway; do
  var=$(echo "$process" | tr a-z A-Z)_BROKER_PASSWORD
  password=$(printenv "$var") || { echo "$var is not set" >&2; exit 1; }
  user="$VHOST.$process"
  if ctl list_users | cut -f1 | grep -qx "$user"; then
    ctl change_password "$user" "$password"
  else
    ctl add_user "$user" "$password"
  fi
  ctl set_permissions --vhost "$VHOST" "$user" '.*' '.*' '.*'
  if [ "$process" = feeds ]; then
    ctl set_user_tags "$user" administrator
  else
    ctl set_user_tags "$user"
  fi
done

# Classic queues (the services' RPC and event queues, the agencies' feeds) are mirrored to a
# second node, so a node down loses none of them. The archive stream feeds.archive is left
# out: a stream is replicated on every node by itself.
ctl set_policy --vhost "$VHOST" --apply-to queues --priority 0 two-nodes \
  '^(?!feeds\.archive$)' '{"ha-mode":"exactly","ha-params":2,"ha-sync-mode":"automatic"}'
echo "broker provisioned: vhost $VHOST, users for every process"
