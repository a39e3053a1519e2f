"""One exception tree for the whole project. Every message says what the user can do next."""

from __future__ import annotations


class HapticsError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(HapticsError):
    """A configuration file or option is invalid."""


class MessageError(HapticsError):
    """Bytes on the wire do not match the expected layout or version."""


class DeviceError(HapticsError):
    """A device could not be opened, armed or talked to."""


class DeviceNotFound(DeviceError):
    """No driver or port matches what was asked for."""


class DeviceLost(DeviceError):
    """A device stopped answering or was unplugged mid-session."""


class SceneError(HapticsError):
    """A scene could not be found or built."""


class SessionError(HapticsError):
    """A session bundle is missing, unreadable or incomplete."""


class RunError(HapticsError):
    """A session stopped early: a process died or could not be finalised."""


class RecorderError(HapticsError):
    """The recorder could not write (e.g. the disk is full)."""


class FirmwareMismatch(DeviceError):
    """The device's firmware speaks another protocol version or message schema than this host."""


class LabelError(HapticsError):
    """A label, assignment or review was refused (outside the taxonomy, not allowed, ...)."""


class StoreError(HapticsError):
    """The label store could not be opened, migrated or written."""


class ExportError(HapticsError):
    """An export could not be written, or did not read back as the session it came from."""
