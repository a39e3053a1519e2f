"""The pybullet world: client ownership, scenes, tissue models and contact queries.

Imports `haptics` only, never `drivers`. Tissue models (`sim.tissue`) are pure functions of
state and input with no pybullet inside, so they are unit-testable and portable to firmware.
"""
