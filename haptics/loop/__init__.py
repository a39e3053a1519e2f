"""The 1 kHz control loop: its clock, the pure tick step, safety, passivity, teleoperation
mapping, the scene contract and registry, and the loop process around them.

May import `haptics.devices` and `haptics.wire`. Scenes come from entry points, never `sim`.
"""
