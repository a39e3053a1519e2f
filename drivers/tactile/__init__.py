"""Tactile arrays. `board.TaxelBoard` drives a taxel-matrix board running the project's
firmware (a resistive matrix scanned by a microcontroller; firmware/PROTOCOL.md §11) over a
serial port: handshake, a reader thread that reassembles TAXEL_FRAME chunks into
`frames.TactileFrame`s, and counts of everything lost or refused. `assembly` is the pure
chunk → frame step; `check` measures a board's link for `haptics devices test`.

The framing (COBS + CRC) and the message layouts are the serial family's
(`drivers.serial.framing`, `drivers.serial.protocol`): one wire format for every board.
"""
