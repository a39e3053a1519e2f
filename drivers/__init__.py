"""Concrete devices: the simulated device, the serial device and the firmware emulator.

Imports `haptics` only, never `sim`. The core finds these through the `haptics.drivers`
entry points in pyproject.toml.
"""
