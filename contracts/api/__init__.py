"""What each service's RPC takes and gives: the schemas the gateway documents and the
service loads and dumps through, so the two cannot drift apart."""
