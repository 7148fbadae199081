"""Sensor values and part quality from a machine's timeline, vectorised over time.

Vibration and temperature rise with wear (hours to days before a breakdown), on top of load,
a daily ambient cycle and noise. The chance that a part is scrap or rework rises with wear, with
temperature away from its normal value, with pressure away from its set point, and with the
material lot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from plant.config import ProductSpec
from plant.kinds import PHYSICS, STATE_CODE
from plant.timeline import Timeline

RUNNING, IDLE, CHANGEOVER = STATE_CODE["running"], STATE_CODE["idle"], STATE_CODE["changeover"]
TEMP_TAU_S = 900.0  # thermal time constant of drive and bearings


def ambient_c(t: np.ndarray) -> np.ndarray:
    return 21.0 + 3.0 * np.sin(2 * np.pi * ((t % 86400) / 86400 - 0.3))


def _lag(target: np.ndarray, dt: float, tau: float) -> np.ndarray:
    alpha = 1 - np.exp(-dt / tau)
    out, _ = lfilter([alpha], [1, alpha - 1], target, zi=[target[0] * (1 - alpha)])
    return out


def analog_values(
    tl: Timeline, products: tuple[ProductSpec, ...], t: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Every analog tag of the machine at the (evenly spaced) times `t`."""
    phys = PHYSICS[tl.equipment.kind]
    dt = float(t[1] - t[0]) if len(t) > 1 else 1.0
    idx = tl.interval_index(t)
    state = tl.iv_state[idx]
    running = state == RUNNING
    wear = tl.wear_at(t)
    w = np.clip(wear / 100, 0, 2)
    ideal_by_product = {p.product_id: p.ideal_cycle_s[tl.equipment.kind] for p in products}
    iv_ideal = np.array([ideal_by_product[p] for p in tl.iv_product])
    cycle = iv_ideal[idx] * (1 + tl.speed_loss) * (1 + 0.08 * w**2)
    speed = np.where(running, iv_ideal[idx] / cycle, 0.0)
    n = len(t)
    load = np.select([running, state == IDLE, state == CHANGEOVER], [speed, 0.15, 0.1], 0.02)
    vib = phys.vibration_mm_s * np.select([running, state == IDLE], [1 + 2.5 * w**3, 0.25], 0.05)
    vib = vib * rng.lognormal(0, 0.08, n)
    temp = _lag(
        ambient_c(t) + phys.run_temperature_rise_c * load + 14 * w**3, dt, TEMP_TAU_S
    ) + rng.normal(0, 0.3, n)
    power = np.select(
        [running, state == IDLE, state == CHANGEOVER],
        [
            phys.idle_kw + (phys.rated_kw - phys.idle_kw) * speed * (1 + 0.1 * w),
            phys.idle_kw,
            0.6 * phys.idle_kw,
        ],
        0.3 * phys.idle_kw,
    ) * rng.normal(1, 0.02, n)
    out = {
        "speed_pct": 100 * speed,
        "cycle_time_s": np.where(running, cycle, 0.0),
        "power_kw": power,
        "vibration_mm_s": vib,
        "temperature_c": temp,
        "tool_wear_pct": wear,
    }
    kind = tl.equipment.kind
    if phys.pressure_bar is not None:
        drift = lfilter([1.0], [1, -0.995], rng.normal(0, 0.003, n))
        out["pressure_bar"] = np.where(
            running | (state == IDLE), phys.pressure_bar * (1 + drift), phys.pressure_bar * 0.02
        )
    if kind == "cnc_mill":
        out["spindle_speed_rpm"] = 12000 * speed * rng.normal(1, 0.005, n)
        out["spindle_current_a"] = power / 0.4 * rng.normal(1, 0.01, n)
    elif kind == "press":
        out["force_kn"] = out["pressure_bar"] * 8.5 * np.where(running, 1, 0.1)
    elif kind == "injection_moulder":
        out["melt_temperature_c"] = (
            240
            + 6 * np.tanh(temp - ambient_c(t) - phys.run_temperature_rise_c)
            + rng.normal(0, 0.8, n)
        )
        out["mould_temperature_c"] = _lag(np.where(running, 62.0, 35.0), dt, 1200) + rng.normal(
            0, 0.4, n
        )
    elif kind == "packer":
        out["film_tension_n"] = np.where(running, 120 + 10 * w, 20) + rng.normal(0, 2, n)
    return out


def aux_values(t: np.ndarray, channels: int, rng: np.random.Generator) -> np.ndarray:
    """(channels, len(t)) slowly wandering temperatures of auxiliary probes."""
    walk = np.cumsum(rng.normal(0, 0.02, (channels, len(t))), axis=1)
    return 25 + 2 * np.sin(2 * np.pi * (t % 86400) / 86400) + walk


@dataclass(frozen=True)
class PartQuality:
    """Per part: the conditions it was made under and what became of it."""

    p_scrap: np.ndarray
    scrap: np.ndarray  # bool
    rework: np.ndarray  # bool
    wear_pct: np.ndarray
    temperature_c: np.ndarray
    pressure_dev_pct: np.ndarray


def lot_factor(lot: np.ndarray) -> np.ndarray:
    """How much a material lot raises scrap (0.55-1.8x), fixed per lot number."""
    u = ((lot.astype(np.int64) * 2654435761) % 1000) / 1000
    return np.exp(1.2 * (u - 0.5))


def part_quality(
    tl: Timeline, grid_t: np.ndarray, analog: dict[str, np.ndarray], rng: np.random.Generator
) -> PartQuality:
    """Scrap and rework for every part of the timeline, from the conditions it was made under."""
    pt = tl.part_t
    wear = tl.wear_at(pt)
    temp = np.interp(pt, grid_t, analog["temperature_c"])
    normal = ambient_c(pt) + PHYSICS[tl.equipment.kind].run_temperature_rise_c * 0.9
    temp_dev = temp - normal
    if "pressure_bar" in analog:
        sp = PHYSICS[tl.equipment.kind].pressure_bar
        pdev = 100 * (np.interp(pt, grid_t, analog["pressure_bar"]) - sp) / sp
    else:
        pdev = np.zeros(len(pt))
    p = 0.006 * np.exp(3.0 * (np.clip(wear, 0, 150) / 100) ** 2) * lot_factor(tl.part_lot)
    p = p * (1 + 0.3 * (temp_dev / 6) ** 2) * (1 + 0.3 * (pdev / 1.5) ** 2)
    p = np.clip(p, 0, 0.6)
    u = rng.random(len(pt))
    scrap = u < p
    rework = (u >= p) & (u < 1.5 * p)
    return PartQuality(p, scrap, rework, wear, temp, pdev)
