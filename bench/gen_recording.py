#!/usr/bin/env python3
"""Generate a realistic synthetic glove recording as a POST /game body (JSON).

Repeated grasp-hold-release cycles: minimum-jerk flexion of 10 finger joints (MCP
and PIP/IP of each finger, with a little hyperextension at rest and per-finger
timing), a hand gyroscope and accelerometer carrying the movement plus a 6 Hz
physiological tremor, and a grip-force sensor that loads during each hold. Sensor
noise is added and values are rounded as a glove would send them. Deterministic
for a given seed.

Usage: gen_recording.py [--seconds 10] [--fs 100] [--seed 7] [--start ISO8601] [--out FILE]
"""
import argparse
import datetime
import json
import sys

import numpy as np

JOINTS = {
    # joint: (rest angle in degrees, flexion amplitude in degrees)
    "thumb_mcp": (-2.0, 35.0), "thumb_ip": (0.0, 45.0),
    "index_mcp": (-4.0, 70.0), "index_pip": (1.0, 90.0),
    "middle_mcp": (-3.0, 75.0), "middle_pip": (1.0, 95.0),
    "ring_mcp": (-3.0, 72.0), "ring_pip": (2.0, 92.0),
    "little_mcp": (-5.0, 65.0), "little_pip": (2.0, 85.0),
}
FINGER_DELAY_S = {"thumb": 0.00, "index": 0.02, "middle": 0.05, "ring": 0.08, "little": 0.11}


def min_jerk(tau):
    tau = np.clip(tau, 0.0, 1.0)
    return 10 * tau**3 - 15 * tau**4 + 6 * tau**5


def generate(seconds, fs, seed, started_at="2026-01-15T10:00:00Z"):
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fs))
    t = np.arange(n) / fs

    # Grasp cycles: flex (0.7-0.9 s), hold (0.5-0.8 s), release (0.7-0.9 s), rest.
    cycles, start = [], 0.4
    while start < seconds - 2.2:
        flex, hold, release = rng.uniform(0.7, 0.9), rng.uniform(0.5, 0.8), rng.uniform(0.7, 0.9)
        cycles.append((start, flex, hold, release, rng.uniform(0.85, 1.0)))
        start += flex + hold + release + rng.uniform(0.5, 0.9)

    def envelope(delay):
        """0 at rest, 1 when fully flexed; one bell-shaped grasp per cycle."""
        e = np.zeros(n)
        for s, flex, hold, release, depth in cycles:
            s = s + delay
            up = min_jerk((t - s) / flex)
            down = min_jerk((t - (s + flex + hold)) / release)
            e += depth * (up - down)
        return e

    angles = {}
    for name, (rest, amp) in JOINTS.items():
        finger = name.split("_")[0]
        delay = FINGER_DELAY_S[finger] + (0.03 if name.endswith(("pip", "ip")) else 0.0)
        x = rest + amp * envelope(delay) + rng.normal(0.0, 0.15, n)
        angles[name] = np.round(x, 2)

    hand = envelope(0.0)
    hand_speed = np.gradient(hand, 1.0 / fs)
    tremor_phase = 2 * np.pi * 6.0 * t + rng.uniform(0, 2 * np.pi)
    gyro = {
        "x": 25.0 * hand_speed + 3.0 * np.sin(tremor_phase) + rng.normal(0, 0.4, n),
        "y": -12.0 * hand_speed + 1.5 * np.sin(tremor_phase + 1.1) + rng.normal(0, 0.4, n),
        "z": 5.0 * hand_speed + 0.8 * np.sin(tremor_phase + 2.3) + rng.normal(0, 0.4, n),
    }
    accel = {
        "x": 0.8 * np.gradient(hand_speed, 1.0 / fs) / 10 + 0.12 * np.sin(tremor_phase + 0.4) + rng.normal(0, 0.03, n),
        "y": 0.9 + 0.3 * hand + 0.06 * np.sin(tremor_phase + 1.7) + rng.normal(0, 0.03, n),
        "z": 9.76 - 0.2 * hand + 0.05 * np.sin(tremor_phase + 0.9) + rng.normal(0, 0.03, n),
    }

    force = np.full(n, 0.3)
    for s, flex, hold, release, depth in cycles:
        peak = rng.uniform(18.0, 32.0) * depth
        load = min_jerk((t - (s + 0.6 * flex)) / (0.4 * flex + 0.15))
        unload = min_jerk((t - (s + flex + hold)) / (0.5 * release))
        wobble = 1.0 + 0.03 * np.sin(2 * np.pi * 1.5 * t + rng.uniform(0, 6))
        force += peak * (load - unload) * wobble
    force = np.maximum(force + rng.normal(0.0, 0.15, n), 0.0)

    sensors = {
        "sample_rate_hz": fs,
        "angles_deg": {k: v.tolist() for k, v in angles.items()},
        "gyro_dps": {k: np.round(v, 3).tolist() for k, v in gyro.items()},
        "accel_ms2": {k: np.round(v, 4).tolist() for k, v in accel.items()},
        "grip_force_n": np.round(force, 3).tolist(),
    }
    started = datetime.datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    ended = started + datetime.timedelta(seconds=int(seconds))
    return {
        "exercise": "grasp_and_release",
        "score": len(cycles) * 10,
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ended_at": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sensors": sensors,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fs", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2026-01-15T10:00:00Z", help="started_at, UTC")
    parser.add_argument("--out", help="output file (default: stdout)")
    args = parser.parse_args()
    body = generate(args.seconds, args.fs, args.seed, args.start)
    text = json.dumps(body, separators=(",", ":"))
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
