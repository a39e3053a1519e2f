"""One tick of the control loop as pure functions: newest sample and state in → command,
telemetry fields and new state out. No sockets, no processes, no clock of its own.

The loop process (`haptics.loop.process`) only schedules ticks and moves bytes; everything it
decides per tick is here, so it is unit-tested without processes (tests/haptics/loop/):

1. `accept_sample`: decode the newest STATE message (if any) and decide whether it is a new,
   plausible sample. Malformed messages, non-finite or absurd values, a host time in the future,
   a sequence number that jumps implausibly far, or a repeat of an older sample are bad input:
   counted and flagged, never fatal, and never allowed to block later samples. A device whose
   sequence restarts (a lower seq with a newer host time) is recognised and counted.
2. the scene's contact query for the tool pose (the only impure call; injected as a function);
3. `render`: teleop force mapping, passivity, safety (which also owns "no sample yet" and "the
   device holds zero force itself"), e-stop (control plane or device button), stale/e-stop
   edge events, and the stop request.

`tick` runs all three; the process calls it with `time.monotonic_ns` as the clock that stamps
the stage times, tests call it with a fake clock and a fake scene.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NamedTuple

from haptics.devices.device import ZERO, Vec3, plausible
from haptics.errors import HapticsError
from haptics.loop.passivity import PassivityState, passivity_step
from haptics.loop.safety import (
    CLOCK_SKEW_NS,
    SAFETY_ESTOP,
    SAFETY_STALE,
    SafetyLimits,
    SafetyPolicy,
    SafetyState,
    command_flags,
    reset_estop,
    safety_step,
)
from haptics.loop.scene import Contact
from haptics.loop.teleop import (
    Mapping,
    TeleopState,
    initial_teleop_state,
    scene_to_device_force,
    teleop_step,
)
from haptics.wire.messages import (
    BUTTON_CLUTCH,
    EVENT_ESTOP,
    EVENT_STALE_INPUT,
    FLAG_ARMED,
    FLAG_BAD_INPUT,
    FLAG_STOPPING,
    STATE,
    STATUS_ARMED,
    STATUS_WATCHDOG,
)

# A sequence number may jump ahead (lost samples) by at most this much: a minute at 10 kHz.
MAX_SEQ_JUMP: Final = 600_000

# -- verdicts of accept_sample ------------------------------------------------------------------
SAMPLE_NONE: Final = 0  # nothing new arrived: the previous sample is reused
SAMPLE_NEW: Final = 1  # a new plausible sample was taken
SAMPLE_BAD: Final = 2  # something arrived and was rejected (counted, flagged)

# -- control requests this tick -----------------------------------------------------------------
CONTROL_ESTOP: Final = 1 << 0  # the control plane's e-stop is latched
CONTROL_STOPPING: Final = 1 << 1  # the session is ending: zero force with FLAG_STOPPING

PARKED: Final[Vec3] = (0.0, 0.0, 1.0)  # where the scene's tool waits for the first sample
_I32_MAX: Final = 2**31 - 1
_I32_MIN: Final = -(2**31)


class TickParams(NamedTuple):
    """What does not change during a session, precomputed once for the tick."""

    mapping: Mapping
    limits: SafetyLimits
    period_ns: int
    dt_s: float
    passivity: bool
    max_damping_ns_per_m: float

    @classmethod
    def make(
        cls,
        rate_hz: float,
        safety: SafetyPolicy,
        mapping: Mapping,
        passivity: bool = True,
        max_damping_ns_per_m: float = 20.0,
    ) -> TickParams:
        """Parameters for a loop at `rate_hz` (Hz) with this safety policy and mapping."""
        period = round(1e9 / rate_hz)
        return cls(
            mapping,
            SafetyLimits.from_policy(safety),
            period,
            period / 1e9,
            passivity,
            max_damping_ns_per_m,
        )


class TickState(NamedTuple):
    """Everything one tick hands to the next. Start with `initial_state(params)`."""

    safety: SafetyState
    passivity: PassivityState
    teleop: TeleopState
    tool: Vec3  # tool position in the scene (m)
    tool_velocity: Vec3  # m/s
    position: Vec3  # newest accepted device sample: position (m)
    velocity: Vec3  # velocity (m/s)
    applied: Vec3  # force the device reports it applied (N): what passivity observes
    buttons: int
    status: int
    seq: int  # seq of the newest accepted sample (0: none yet)
    sample_ns: int  # its host time (0: none yet)
    stale: bool  # last tick's stale flag (for the edge event)
    estop: bool  # last tick's e-stop flag (for the edge event)
    bad_input: int  # samples rejected so far
    restarts: int  # device sequence restarts recognised so far

    @property
    def has_sample(self) -> bool:
        """Whether a real device sample has been accepted yet."""
        return self.sample_ns != 0


class TickOut(NamedTuple):
    """One tick's results: the command and the telemetry fields the process packs."""

    force: Vec3  # commanded force, device frame (N)
    flags: int  # COMMAND/TELEMETRY FLAG_* bits
    rendered: Vec3  # the scene's force mapped to the device frame, before passivity/safety
    contact: Contact
    events: int  # EVENT_* bits (the scene's, plus stale and e-stop edges)
    safety: int  # SAFETY_* bits
    energy_j: float
    alpha: float
    dissipated_j: float
    verdict: int  # SAMPLE_NONE | SAMPLE_NEW | SAMPLE_BAD
    input_lag_ns: int  # now − host time of the newest sample, saturated to int32
    input_done_ns: int  # clock after the sample was taken
    scene_done_ns: int  # clock after the scene answered


def initial_state(params: TickParams) -> TickState:
    """The state before the first tick: no sample, no force, the tool at the mapping's offset."""
    teleop = initial_teleop_state(params.mapping)
    return TickState(
        SafetyState(),
        PassivityState(),
        teleop,
        teleop.held_m,
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        0,
        0,
        0,
        0,
        False,
        False,
        0,
        0,
    )


def accept_sample(
    params: TickParams, state: TickState, raw: bytes | None, now_ns: int
) -> tuple[TickState, int]:
    """Take the newest STATE message into the state, or reject it.

    raw: the newest message drained this tick (None: nothing arrived); now_ns: the tick's
    wake time (the same monotonic clock the driver stamps host_time_ns with).
    Returns (new state, SAMPLE_NONE | SAMPLE_NEW | SAMPLE_BAD). Never raises.
    """
    if raw is None:
        return state, SAMPLE_NONE
    try:
        s = STATE.unpack(raw)
    except HapticsError:
        return state._replace(bad_input=state.bad_input + 1), SAMPLE_BAD
    seq = int(s[2])
    host_ns = int(s[4])
    if state.has_sample and host_ns == state.sample_ns and seq == state.seq:
        return state, SAMPLE_NONE  # the same sample again
    newer = host_ns > state.sample_ns
    restart = state.has_sample and newer and seq < state.seq
    if (
        not newer
        or host_ns > now_ns + CLOCK_SKEW_NS  # from the future: a broken or hostile stamp
        or (state.has_sample and seq == state.seq)
        or (state.has_sample and seq - state.seq > MAX_SEQ_JUMP)
    ):
        return state._replace(bad_input=state.bad_input + 1), SAMPLE_BAD
    position: Vec3 = (float(s[5]), float(s[6]), float(s[7]))
    velocity: Vec3 = (float(s[8]), float(s[9]), float(s[10]))
    measured: Vec3 = (float(s[11]), float(s[12]), float(s[13]))
    applied: Vec3 = (float(s[19]), float(s[20]), float(s[21]))  # what the device applied
    if not (plausible(position, velocity, measured) and plausible(position, velocity, applied)):
        return state._replace(bad_input=state.bad_input + 1), SAMPLE_BAD
    buttons = int(s[14])
    teleop, tool, tool_velocity = teleop_step(
        params.mapping, state.teleop, position, velocity, bool(buttons & BUTTON_CLUTCH)
    )
    return (
        state._replace(
            teleop=teleop,
            tool=tool,
            tool_velocity=tool_velocity,
            position=position,
            velocity=velocity,
            applied=applied,
            buttons=buttons,
            status=int(s[15]),
            seq=seq,
            sample_ns=host_ns,
            restarts=state.restarts + 1 if restart else state.restarts,
        ),
        SAMPLE_NEW,
    )


def render(
    params: TickParams,
    state: TickState,
    contact: Contact,
    now_ns: int,
    control: int = 0,
    verdict: int = SAMPLE_NONE,
) -> tuple[TickState, Vec3, Vec3, int, int, int, float, float]:
    """The force to command for the scene's `contact`, after passivity and safety.

    control: CONTROL_* bits; verdict: what `accept_sample` said this tick.
    Returns (new state, force N, rendered force N (device frame, before passivity and safety),
    FLAG_* bits, EVENT_* edge bits, SAFETY_* bits, passivity energy J, passivity α N·s/m).
    Never raises.
    """
    rendered = scene_to_device_force(params.mapping, contact.force)
    force = rendered
    pc = state.passivity
    alpha = energy = 0.0
    if params.passivity:
        pc, force, alpha, energy, _ = passivity_step(
            pc, force, state.velocity, params.dt_s, state.applied, params.max_damping_ns_per_m
        )
    status = state.status
    estop = bool(control & CONTROL_ESTOP) or bool(state.buttons & params.limits.estop_buttons)
    safety, force, sbits = safety_step(
        params.limits,
        state.safety,
        force,
        state.position,
        state.velocity,
        now_ns - state.sample_ns if state.has_sample else 0,
        now_ns,
        estop,
        waiting=not state.has_sample,
        device_off=state.has_sample
        and (bool(status & STATUS_WATCHDOG) or not status & STATUS_ARMED),
    )
    flags = FLAG_ARMED | command_flags(sbits)
    if verdict == SAMPLE_BAD:
        flags |= FLAG_BAD_INPUT
    stale = bool(sbits & SAFETY_STALE)
    is_estop = bool(sbits & SAFETY_ESTOP)
    events = (EVENT_STALE_INPUT if stale and not state.stale else 0) | (
        EVENT_ESTOP if is_estop and not state.estop else 0
    )
    if control & CONTROL_STOPPING:
        flags, force = FLAG_STOPPING, ZERO
    new = state._replace(safety=safety, passivity=pc, stale=stale, estop=is_estop)
    return new, force, rendered, flags, events, sbits, energy, alpha


def tick(
    params: TickParams,
    state: TickState,
    raw: bytes | None,
    now_ns: int,
    scene_step: Callable[[Vec3, Vec3, float], Contact],
    clock: Callable[[], int],
    control: int = 0,
) -> tuple[TickState, TickOut]:
    """One whole tick: take the newest sample, query the scene, render a safe force.

    raw: the newest STATE message drained this tick, or None; now_ns: the tick's wake time;
    scene_step: the scene's `step(tool, tool_velocity, dt_s)`; clock: stamps the stage
    times (time.monotonic_ns in the process); control: CONTROL_* bits. Before the first real
    sample the scene's tool is parked 1 m up (PARKED) and the force is zero.
    Raises only what scene_step raises.
    """
    state, verdict = accept_sample(params, state, raw, now_ns)
    t_input = clock()
    if state.has_sample:
        contact = scene_step(state.tool, state.tool_velocity, params.dt_s)
    else:  # park the scene's tool far above everything until a real sample says where it is
        contact = scene_step(PARKED, ZERO, params.dt_s)
    t_scene = clock()
    state, force, rendered, flags, events, sbits, energy, alpha = render(
        params, state, contact, now_ns, control, verdict
    )
    lag = now_ns - state.sample_ns if state.has_sample else 0
    lag = _I32_MAX if lag > _I32_MAX else _I32_MIN if lag < _I32_MIN else lag
    return state, TickOut(
        force,
        flags,
        rendered,
        contact,
        events | contact.events,
        sbits,
        energy,
        alpha,
        state.passivity.dissipated_j,
        verdict,
        lag,
        t_input,
        t_scene,
    )


def after_estop_reset(state: TickState) -> TickState:
    """The state after the control plane's `reset_estop`: force re-engages like at start-up."""
    return state._replace(safety=reset_estop(state.safety))
