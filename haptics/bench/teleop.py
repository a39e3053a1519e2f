"""`haptics bench teleop`: a bilateral link under delay, jitter and loss, pressing on the
stiffest tissue in the scenes, with and without time-domain passivity (haptics.loop.bilateral).

This is the model; `haptics bench teleop --link` runs the same press over the real link
(processes, tcp, CurveZMQ, the relay): `haptics.bench.teleop_link`.

The model (1-D along the contact normal, + into tissue, all of it in this file):

* **Operator + leader**: the simulated device's hand–arm model (m = 0.1 kg, hand spring
  400 N/m, damper 8.9 N·s/m) aims from 5 mm above the tissue to 10 mm into it over 0.5 s and
  holds; the leader shows the force F_m the link asks for.
* **Link**: every 1 ms each side sends one packet; each way takes RTT/2 · (1 ± jitter)
  (uniform) and is lost with probability `loss`; the receiver keeps the newest packet by
  sequence number (a late, older packet is ignored), so jitter also reorders.
* **Follower**: a 0.2 kg instrument tip with a PD controller tracking the reference
  position x_r, which moves toward the leader's newest received position at
  v_r = (x_leader − x_r)/T each tick (so a lost packet leaves no lasting error, and whatever
  the passivity controller withheld is made up later when energy allows):
  F_s = Kp·(x_r − x_s) + Kd·(v_r − v_s) (a local loop on the follower's own controller, outside
  the network); the tissue is a spring-damper wall at x = 0 (2000 N/m: the upper end of the
  palpation scene's inclusion stiffness). The follower measures the force its tip presses on
  the tissue, F_e, and the leader displays F_m = −F_e, delayed (position–force architecture:
  the network's ports are (v_m, F_m) at the leader and (v_r, F_e) at the follower).
* Continuous dynamics are integrated with 10 semi-implicit Euler substeps per 1 ms tick.

Figures per round-trip delay, for the uncompensated baseline and for TDPA:
* `stable`: the link generated at most 1 mJ (passive) and the follower's oscillation is not
  growing (peak-to-peak over the last second at most 1.25× the second before, or under 50 µm);
* `contact_lost`: the follower left the tissue during the last two seconds (a bouncing limit
  cycle: what an unstable link settles into, since losing contact bounds its growth);
* `network_energy_max_j`: the most energy the link ever generated (out − in over both ports);
  ≤ ~0 for a passive link;
* `p2p_mm`, `growth`: the follower's peak-to-peak motion over the last second, and its ratio
  to the second before;
* `felt_n_per_m` / `transparency`: the stiffness the operator feels (displayed force over
  leader penetration, held contact) and its ratio to the tissue's stiffness;
* `drift_mm`: leader minus follower position at the end (TDPA's price).
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from typing import Any

from haptics.loop.bilateral import (
    PortEnergy,
    account,
    follower_step,
    leader_step,
    network_energy,
)
from haptics.runtime.link_ports import LinkParams

RTTS_MS = (0.0, 20.0, 50.0, 100.0, 200.0)
_LINK = LinkParams._field_defaults
GROWTH_LIMIT = 1.25  # p2p motion over the last second at most this × the second before
STILL_M = 0.05e-3  # below 50 µm peak-to-peak the follower counts as still
ENERGY_LIMIT_J = 1e-3  # the link may generate at most this (sampling effects)


@dataclass(frozen=True)
class TeleopBenchParams:
    """Everything the bench's model depends on (SI units in the names)."""

    rate_hz: float = 1000.0
    substeps: int = 10
    duration_s: float = 10.0
    approach_s: float = 0.5
    start_m: float = -0.005
    target_m: float = 0.010
    leader_mass_kg: float = 0.1
    hand_k_n_per_m: float = 400.0
    hand_b_ns_per_m: float = 8.9
    follower_mass_kg: float = 0.2
    kp_n_per_m: float = 3000.0
    kd_ns_per_m: float = 60.0
    tissue_k_n_per_m: float = 2000.0
    tissue_b_ns_per_m: float = 2.0
    jitter: float = 0.10
    loss: float = 0.01
    seed: int = 1
    # as the real link's ports (haptics.runtime.link_ports.LinkParams): the leader's damper
    # bound (the device's stable damping) and the share of its unsent energy each port keeps
    max_damping_ns_per_m: float = _LINK["max_damping_ns_per_m"]
    leader_keep: float = _LINK["leader_keep"]
    follower_keep: float = _LINK["follower_keep"]


class _Link:
    """One direction of the link: delay with jitter, loss, newest-by-seq delivery."""

    def __init__(self, one_way_s: float, jitter: float, loss: float, rng: random.Random) -> None:
        self.one_way_s, self.jitter, self.loss, self.rng = one_way_s, jitter, loss, rng
        self.in_flight: list[tuple[float, int, tuple[float, ...]]] = []
        self.newest_seq = -1
        self.newest: tuple[float, ...] | None = None
        self.delivered = self.lost = self.stale = 0

    def send(self, now_s: float, seq: int, payload: tuple[float, ...]) -> None:
        if self.rng.random() < self.loss:
            self.lost += 1
            return
        delay = self.one_way_s * (1.0 + self.jitter * (2.0 * self.rng.random() - 1.0))
        self.in_flight.append((now_s + delay, seq, payload))

    def receive(self, now_s: float) -> tuple[float, ...] | None:
        keep = []
        for arrival, seq, payload in self.in_flight:
            if arrival > now_s:
                keep.append((arrival, seq, payload))
            elif seq > self.newest_seq:
                self.newest_seq, self.newest = seq, payload
                self.delivered += 1
            else:
                self.stale += 1  # arrived after a newer one: ignored
        self.in_flight = keep
        return self.newest


def _hand_target(p: TeleopBenchParams, t: float) -> float:
    if t >= p.approach_s:
        return p.target_m
    s = t / p.approach_s
    s = s * s * (3.0 - 2.0 * s)  # smoothstep: no jerk at either end
    return p.start_m + (p.target_m - p.start_m) * s


def simulate(p: TeleopBenchParams, rtt_s: float, passivity: bool) -> dict[str, Any]:
    """One press over a link with round-trip `rtt_s`; the figures described in the module."""
    rng = random.Random(p.seed)
    dt = 1.0 / p.rate_hz
    h = dt / p.substeps
    to_follower = _Link(rtt_s / 2.0, p.jitter, p.loss, rng)
    to_leader = _Link(rtt_s / 2.0, p.jitter, p.loss, rng)
    xm = vm = 0.0
    xm = p.start_m
    xs, vs = p.start_m, 0.0
    xr = p.start_m
    lead, foll = PortEnergy(), PortEnergy()
    fm = fs = 0.0
    ticks = round(p.duration_s * p.rate_hz)
    xs_trace: list[float] = []
    e_max = 0.0
    felt: list[tuple[float, float]] = []
    diverged = False
    for k in range(ticks):
        t = k * dt
        # -- follower tick: newest leader packet → reference → PD effort → passivity
        pkt = to_follower.receive(t)
        x_lead, remote_in_m = (pkt[0], pkt[1]) if pkt is not None else (xr, 0.0)
        v_ref = (x_lead - xr) / dt  # move the reference onto the leader's position this tick
        f_env = p.tissue_k_n_per_m * xs + p.tissue_b_ns_per_m * vs if xs > 0 else 0.0
        f_env = max(f_env, 0.0)  # the force the tip presses on the tissue with (measured)
        if passivity:
            foll, v_ref, _ = follower_step(
                foll, remote_in_m, v_ref, dt, f_env, 0.0, p.follower_keep
            )
        else:
            foll = account(foll, f_env * v_ref, dt)
        xr += v_ref * dt
        fs = p.kp_n_per_m * (xr - xs) + p.kd_ns_per_m * (v_ref - vs)  # local position loop
        to_leader.send(t, k, (f_env, foll.sent))
        # -- leader tick: newest follower packet → force to display → passivity
        pkt = to_leader.receive(t)
        f_link, remote_in_s = (-pkt[0], pkt[1]) if pkt is not None else (0.0, 0.0)
        if passivity:
            lead, fm, _ = leader_step(
                lead, remote_in_s, f_link, vm, dt, p.max_damping_ns_per_m, p.leader_keep
            )
        else:
            fm = f_link
            lead = account(lead, fm * vm, dt)
        to_follower.send(t, k, (xm, lead.sent))
        e_max = max(e_max, network_energy(lead, foll))
        # -- continuous dynamics over the tick (forces held)
        target = _hand_target(p, t)
        for _ in range(p.substeps):
            fh = p.hand_k_n_per_m * (target - xm) - p.hand_b_ns_per_m * vm
            vm += (fh + fm) / p.leader_mass_kg * h
            xm += vm * h
            f_tissue = -(p.tissue_k_n_per_m * xs + p.tissue_b_ns_per_m * vs) if xs > 0 else 0.0
            if f_tissue > 0.0:
                f_tissue = 0.0  # tissue never pulls
            vs += (fs + f_tissue) / p.follower_mass_kg * h
            xs += vs * h
        if not (abs(xs) < 1.0 and abs(xm) < 1.0 and math.isfinite(xs + xm)):
            diverged = True
            break
        xs_trace.append(xs)
        if t >= p.duration_s - 1.0:
            felt.append((-fm, xm))
    window = round(1.0 * p.rate_hz)
    if diverged or len(xs_trace) < 2 * window:
        p2p_last = p2p_prev = math.inf
        contact_lost = True
    else:
        last, prev = xs_trace[-window:], xs_trace[-2 * window : -window]
        p2p_last, p2p_prev = max(last) - min(last), max(prev) - min(prev)
        contact_lost = min(last + prev) <= 0.0
    growth = p2p_last / p2p_prev if p2p_prev > 1e-9 else (1.0 if p2p_last < 1e-9 else math.inf)
    growing = diverged or not (growth <= GROWTH_LIMIT or p2p_last < STILL_M)
    stable = not growing and e_max <= ENERGY_LIMIT_J
    f_mean = sum(f for f, _ in felt) / len(felt) if felt else math.nan
    x_mean = sum(x for _, x in felt) / len(felt) if felt else math.nan
    felt_k = f_mean / x_mean if not diverged and x_mean > 1e-4 else math.nan
    return {
        "stable": stable,
        "growing": growing,
        "diverged": diverged,
        "contact_lost": contact_lost,
        "network_energy_max_j": round(e_max, 6),
        "p2p_mm": round(p2p_last * 1e3, 4) if math.isfinite(p2p_last) else None,
        "growth": round(growth, 3) if math.isfinite(growth) else None,
        "felt_n_per_m": round(felt_k, 1) if math.isfinite(felt_k) else None,
        "transparency": round(felt_k / p.tissue_k_n_per_m, 3) if math.isfinite(felt_k) else None,
        "drift_mm": round((xm - xs) * 1e3, 3) if not diverged else None,
        "packets_lost": to_follower.lost + to_leader.lost,
        "packets_stale": to_follower.stale + to_leader.stale,
    }


def run_teleop_bench(
    rtts_ms: tuple[float, ...] = RTTS_MS, params: TeleopBenchParams | None = None
) -> dict[str, Any]:
    """The baseline and TDPA at each round-trip delay; see the module docstring."""
    p = params or TeleopBenchParams()
    rows = []
    for rtt in rtts_ms:
        rows.append(
            {
                "rtt_ms": rtt,
                "baseline": simulate(p, rtt / 1e3, passivity=False),
                "tdpa": simulate(p, rtt / 1e3, passivity=True),
            }
        )
    return {"params": dataclasses.asdict(p), "rows": rows}
