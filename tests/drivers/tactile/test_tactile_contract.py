"""The sense-only device contract (`SensorContract`) against both tactile devices: the
simulated array (`tactile-sim`) and the taxel board driver (`tactile:PORT`) over the real
firmware emulator on a pty; and the board device's own counting of what it refuses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest

from drivers.serial.emulator import EmulatorProcess, start_emulator
from drivers.tactile.device import TaxelBoardDevice
from haptics.devices.device import SensorDevice
from haptics.devices.registry import make_device
from haptics.devices.sensor_process import message_problem
from haptics.devices.testing import SensorContract
from haptics.errors import DeviceError, DeviceLost, DeviceNotFound
from haptics.wire.messages import Layout, tactile_layout


class TestSimulatedTactileArrayContract(SensorContract):
    spec = "tactile-sim"


@pytest.mark.integration
class TestTaxelBoardContract(SensorContract):
    spec: ClassVar[str] = "tactile"  # the registered name; the port is the emulator's

    @pytest.fixture
    def device(self, taxel_emulator: EmulatorProcess) -> Iterator[SensorDevice]:
        dev = make_device(f"tactile:{taxel_emulator.port}")
        assert isinstance(dev, TaxelBoardDevice)
        yield dev
        dev.close()


def _read(dev: SensorDevice, seconds: float) -> list[bytes]:
    out: list[bytes] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out += [msg for _, msg in dev.read_messages(0.05)]
    return out


@pytest.mark.integration
def test_the_board_declares_its_handshake_geometry(emulator_binary: object) -> None:
    with start_emulator("taxel", rate_hz=100, rows=8, cols=20, pitch_mm=2.5,
                        realtime=True) as emu:
        schema = TaxelBoardDevice.schema(emu.port)
        assert not schema.takes_force and schema.rate_hz == pytest.approx(100.0)
        (decl,) = schema.streams
        assert decl.name == "tactile" and decl.rate_hz == pytest.approx(100.0)
        assert decl.layout == tactile_layout(8, 20).to_spec()
        dev = TaxelBoardDevice(emu.port)
        try:
            info = dev.open()
            assert info.provenance == "emulated"
            assert info.extra["board"]["pitch_m"] == pytest.approx(0.0025)
            layout = Layout.from_spec(decl.layout)
            msgs = _read(dev, 0.5)
            assert len(msgs) >= 30
            assert all(message_problem(layout, m) is None for m in msgs)
            rec = np.frombuffer(b"".join(msgs), layout.dtype)
            assert rec["pressure_kpa"].shape[1:] == (8, 20)
            assert (np.diff(rec["seq"].astype(np.int64)) == 1).all()
            assert (np.diff(rec["device_time_ns"]) > 0).all()
        finally:
            dev.close()


@pytest.mark.integration
def test_bad_frames_are_counted_and_the_stream_goes_on(emulator_binary: object) -> None:
    with start_emulator("taxel", inject_bad_every=4, realtime=True) as emu:
        dev = TaxelBoardDevice(emu.port)
        try:
            dev.open()
            layout = tactile_layout(16, 16)
            msgs = _read(dev, 1.5)
            s = dev.stats()
        finally:
            dev.close()
    assert len(msgs) >= 250 and all(message_problem(layout, m) is None for m in msgs)
    injected = s["frames"] // 4
    assert s["bad_frames"] >= injected * 2 // 3, s
    assert s["length_errors"] > 0 and s["bad_chunks"] > 0 and s["frames_lost"] == 0, s
    assert s["frames"] == len(msgs) and not s["silent"]


@pytest.mark.integration
def test_a_board_that_vanishes_is_reported_once_then_silent(emulator_binary: object) -> None:
    emu = start_emulator("taxel")
    dev = TaxelBoardDevice(emu.port)
    try:
        dev.open()
        assert _read(dev, 0.3)
        emu.kill()
        with pytest.raises(DeviceLost, match="unplugged or its emulator stopped"):
            _read(dev, 2.0)
        assert _read(dev, 0.1) == []  # reported once: then nothing, the stream is silent
        s = dev.stats()
        assert s["link"] == "lost" and s["silent"] and s["lost"]
    finally:
        dev.close()
        emu.stop()


def test_no_port_is_a_clear_error() -> None:
    with pytest.raises(DeviceNotFound, match="which port"):
        TaxelBoardDevice.schema("")
    with pytest.raises(DeviceNotFound, match="emulator start taxel"):
        TaxelBoardDevice.schema("/dev/does-not-exist")
    with pytest.raises(DeviceError):
        make_device("tactile:/dev/does-not-exist").open()
