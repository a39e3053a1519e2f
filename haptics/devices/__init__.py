"""Devices: the device contract every driver implements, the driver process that runs one,
the entry-point registry that finds drivers, and the contract test suite drivers run.

May import `haptics.wire` (and the bottom modules); never the loop, sessions or anything above.
Concrete drivers live in the top-level `drivers` package, found through entry points only.
"""
