#!/bin/sh
# Put the cluster's shared Erlang cookie (the docker secret erlang_cookie) where the broker and
# its command-line tools read it, readable by the rabbitmq user only, then run "$@".
set -eu
install -m 0400 -o rabbitmq -g rabbitmq /run/secrets/erlang_cookie /var/lib/rabbitmq/.erlang.cookie
exec "$@"
