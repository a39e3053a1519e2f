"""The serial driver: a haptic device running the project's firmware, over a serial port.

`framing` (COBS + CRC frames) and `protocol` (message layouts) mirror firmware/core;
`device.SerialDevice` is the driver; `emulator` starts the firmware emulator on a pty,
`relay` injects faults between two ptys, and `check` measures a link end to end.
"""
