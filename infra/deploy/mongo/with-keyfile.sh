#!/bin/sh
# Put the replica set's shared key (the docker secret mongo_keyfile) where mongod reads it,
# readable by the mongodb user only (mongod refuses a key others can read), then run the
# image's own entrypoint with "$@".
set -eu
install -m 0400 -o mongodb -g mongodb /run/secrets/mongo_keyfile /etc/mongo-keyfile
exec docker-entrypoint.sh "$@"
