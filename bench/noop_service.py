"""The baseline for bench/gateway_read.py: a nameko service whose one RPC does nothing.

Run by the benchmark as `nameko run --config infra/config.yaml noop_service` (cwd bench/),
on the same broker and vhost as the platform it is compared with.
"""
from nameko.rpc import rpc


class NoopService:
    name = "noop"

    @rpc
    def noop(self):
        return None
