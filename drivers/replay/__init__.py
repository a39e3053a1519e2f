"""Replay: a recorded session's device motion played back as a device."""
