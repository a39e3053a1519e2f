"""The wire: fixed binary message layouts, ZeroMQ transport, and the control plane.

The bottom of the core: imports nothing of ours but `haptics.errors` and `haptics.process`.
Everything that crosses a socket is declared here once.
"""
