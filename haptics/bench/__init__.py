"""Offline benchmarks of the haptic rendering (no device, no processes): `haptics bench ...`."""
