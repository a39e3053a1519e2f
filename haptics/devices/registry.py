"""Drivers by name: the `haptics.drivers` entry points, typed as `Device` classes."""

from __future__ import annotations

from haptics.devices.device import Device
from haptics.errors import DeviceNotFound
from haptics.plugins import DRIVER_GROUP, load, names


def driver_names() -> list[str]:
    """Names of the installed drivers."""
    return names(DRIVER_GROUP)


def split_device_spec(spec: str) -> tuple[str, str]:
    """'serial:/dev/ttyACM0' → ('serial', '/dev/ttyACM0'); 'simulated' → ('simulated', '')."""
    name, _, argument = spec.partition(":")
    return name, argument


def load_driver(name: str) -> type[Device]:
    """The driver class registered as `name`.

    Raises DeviceNotFound listing what exists, or when the entry is not a Device subclass.
    """
    cls = load(DRIVER_GROUP, name)
    if cls is None:
        raise DeviceNotFound(
            f"no driver named '{name}'; installed drivers: {', '.join(driver_names()) or 'none'}. "
            "Is the package that provides it installed (pip install -e .)?"
        )
    if not (isinstance(cls, type) and issubclass(cls, Device)):
        raise DeviceNotFound(
            f"the '{name}' entry in {DRIVER_GROUP} is {cls!r}, not a haptics Device class; "
            "fix the package that declares it"
        )
    return cls


def make_device(spec: str) -> Device:
    """A created (not yet opened) device from a 'name[:argument]' spec."""
    name, argument = split_device_spec(spec)
    return load_driver(name)(argument)
