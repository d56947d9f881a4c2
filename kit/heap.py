"""Keep the garbage collector's full passes short.

A full collection walks every object the process holds and stops every green thread while it
does. After imports and set-up a service holds a few hundred thousand objects, and a full pass
over them took 40-60 ms on a 2-CPU machine: every request in flight waited that long.
Everything a service has imported and set up when it starts lives as long as the process, so
`SettledHeap` moves it out of the collector's reach once the service has started
(`gc.freeze()`); later full passes walk only what was created since.
"""
import gc

from nameko.extensions import DependencyProvider


class SettledHeap(DependencyProvider):
    """Declare on a service (`heap = SettledHeap()`); it injects nothing."""

    def start(self):
        gc.collect()
        gc.freeze()
