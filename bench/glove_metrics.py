#!/usr/bin/env python3
"""A straightforward NumPy/SciPy implementation of docs/glove-metrics.md.

It is the reference the Rust analytics (processing-service/src/analytics) are
checked against to ~1e-9, and the baseline of the speed comparison. It follows the
contract's definitions literally, using numpy/scipy where the contract names them
(np.gradient, scipy.signal.welch, butter + filtfilt) and plain loops where the
definition is sequential (hysteresis, peak counting).

Usage:
  glove_metrics.py analyze FILE [--raw] [--lowpass-hz HZ]   print the report as JSON
  glove_metrics.py bench FILE [--seconds S] [--raw]         analyses per second, one core
"""
import argparse
import json
import math
import sys
import time

import numpy as np
import scipy.signal

FINGERS = ("thumb", "index", "middle", "ring", "little")
JOINTS = ("mcp", "pip", "dip", "ip")
DEFAULT_CUTOFF_HZ = 8.0


# ---- A1: SPARC, [S15] sparc() -------------------------------------------------
def sparc(movement, fs, padlevel=4, fc=10.0, amp_th=0.05):
    nfft = int(pow(2, np.ceil(np.log2(len(movement))) + padlevel))
    f = np.arange(0, fs, fs / nfft)
    Mf = abs(np.fft.fft(movement, nfft))
    Mf = Mf / max(Mf)
    fc_inx = ((f <= fc) * 1).nonzero()
    f_sel = f[fc_inx]
    Mf_sel = Mf[fc_inx]
    inx = ((Mf_sel >= amp_th) * 1).nonzero()[0]
    fc_inx = range(inx[0], inx[-1] + 1)
    f_sel = f_sel[fc_inx]
    Mf_sel = Mf_sel[fc_inx]
    return -sum(np.sqrt(pow(np.diff(f_sel) / (f_sel[-1] - f_sel[0]), 2) + pow(np.diff(Mf_sel), 2)))


def sparc_or_nan(movement, fs):
    # [S21] wraps sparc() in try/except and returns NaN.
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(sparc(movement, fs))
    except (IndexError, ValueError):
        return math.nan


# ---- A2: LDLJ -----------------------------------------------------------------
def dimensionless_jerk(movement, fs):
    movement = np.array(movement)
    movement_peak = max(abs(movement))
    dt = 1.0 / fs
    movement_dur = len(movement) * dt
    jerk = np.diff(movement, 2) / pow(dt, 2)
    scale = pow(movement_dur, 3) / pow(movement_peak, 2)
    return -scale * sum(pow(jerk, 2)) * dt


def log_dimensionless_jerk(movement, fs):
    return -np.log(abs(dimensionless_jerk(movement, fs)))


def ldlj_vector(movement, fs):
    """[S21] log_dimensionless_jerk(M, fs, data_type='vel'); M has shape (N, D)."""
    movement = np.asarray(movement)
    if movement.shape[0] < 3:
        raise ValueError("too short")
    dt = 1.0 / fs
    jerk = np.linalg.norm(np.diff(movement, axis=0, n=2), axis=1) / np.power(dt, 2)
    mjerk = np.sum(np.power(jerk, 2)) * dt
    mdur = np.power(movement.shape[0] * dt, 3)
    mamp = np.power(np.max(np.linalg.norm(movement, axis=1)), 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.log(mdur) + np.log(mamp) - np.log(mjerk))


# ---- B: glove metrics -----------------------------------------------------------
def gradient(x, fs):
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return np.full(len(x), np.nan)
    return np.gradient(x, 1.0 / fs)


def count_reps(angle):
    lo, hi = float(np.min(angle)), float(np.max(angle))
    r = hi - lo
    if r < 5.0:
        return 0
    low, high = lo + 0.3 * r, lo + 0.7 * r
    armed, count = False, 0
    for v in angle:
        if v <= low:
            armed = True
        elif v >= high and armed:
            count += 1
            armed = False
    return count


def min_samples(seconds, fs):
    return max(0, math.ceil(seconds * fs - 1e-9))


def runs_at_or_above(x, th, min_len):
    above = np.asarray(x) >= th
    runs, start = [], None
    for i, a in enumerate(above):
        if a and start is None:
            start = i
        elif not a and start is not None:
            if i - start >= min_len:
                runs.append((start, i))
            start = None
    if start is not None and len(above) - start >= min_len:
        runs.append((start, len(above)))
    return runs


def movement_units(s, fs, amp_th=10.0, min_dt=0.15):
    n = len(s)
    if n < 3:
        return 0
    gap = min_samples(min_dt, fs)
    prev_min, last, count = s[0], None, 0
    for i in range(1, n - 1):
        if s[i] < s[i - 1] and s[i] <= s[i + 1]:
            prev_min = s[i]
        elif s[i] > s[i - 1] and s[i] >= s[i + 1] and s[i] - prev_min >= amp_th and (last is None or i - last >= gap):
            count += 1
            last = i
    return count


def tremor(axes, fs):
    n = len(axes[0])
    nperseg = min(n, round(4 * fs))
    total = None
    for x in axes:
        f, p = scipy.signal.welch(np.asarray(x, dtype=float), fs, window="hann", nperseg=nperseg, noverlap=nperseg // 2)
        total = p if total is None else total + p
    df = fs / nperseg
    band = (f >= 3.0) & (f <= 12.0)
    band_power = float(np.sum(total[band] * df))
    total_power = float(np.sum(total[1:] * df))
    if band_power > 0:
        idx = np.nonzero(band)[0]
        peak = float(f[idx[np.argmax(total[idx])]])
    else:
        peak = math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = float(np.float64(band_power) / np.float64(total_power))
    return {
        "band_power": band_power,
        "tremor_rms": math.sqrt(band_power),
        "total_power": total_power,
        "power_ratio": ratio,
        "peak_freq_hz": peak,
    }


def grip(force, fs):
    force = np.asarray(force, dtype=float)
    peak = float(np.max(force))
    episodes = runs_at_or_above(force, 0.1 * peak, min_samples(0.2, fs))
    rate = gradient(force, fs)
    rows = []
    for a, b in episodes:
        f = force[a:b]
        k = int(np.argmax(f))
        ep_peak = float(f[k])
        hold = f[f >= 0.8 * ep_peak]
        hold_mean = float(np.mean(hold))
        with np.errstate(invalid="ignore", divide="ignore"):
            cv = float(np.float64(np.std(hold)) / np.float64(hold_mean))
        rows.append([ep_peak, k / fs, float(np.max(rate[a:b])), (b - a) / fs, hold_mean, cv])
    means = np.mean(np.array(rows), axis=0) if rows else [math.nan] * 6
    keys = ["mean_ep_peak", "mean_time_to_peak_s", "mean_max_rfd", "mean_duration_s", "mean_hold_mean", "mean_hold_cv"]
    out = {"peak_force": peak, "n_grips": len(episodes)}
    out.update({k: float(v) for k, v in zip(keys, means)})
    return out


def finger(angles, vels, fs):
    vel = np.column_stack(vels)
    s = np.sqrt(np.sum(vel**2, axis=1))
    segments = runs_at_or_above(s, 0.1 * np.max(s), min_samples(0.2, fs))
    sp, lj, mu = [], [], []
    for a, b in segments:
        sp.append(sparc_or_nan(s[a:b], fs))
        try:
            lj.append(ldlj_vector(vel[a:b], fs))
        except ValueError:
            lj.append(math.nan)
        mu.append(movement_units(s[a:b], fs))
    mean = lambda v: float(np.mean(v)) if v else math.nan
    return {
        "tam_partial_deg": float(sum(np.max(x) - max(np.min(x), 0.0) for x in angles)),
        "peak_joint_space_speed_dps": float(np.max(s)),
        "n_segments": len(segments),
        "sparc_mean": mean(sp),
        "ldlj_mean": mean(lj),
        "movement_units_mean": mean(mu),
    }


def joint_order(name):
    f, j = name.split("_")
    return (FINGERS.index(f), JOINTS.index(j))


def analyze(sensors, lowpass_hz=DEFAULT_CUTOFF_HZ):
    fs = float(sensors["sample_rate_hz"])
    report = {}
    data = {}
    for name in sorted(sensors.get("angles_deg", {}), key=joint_order):
        x = np.asarray(sensors["angles_deg"][name], dtype=float)
        if lowpass_hz is not None and len(x) > 9:
            b, a = scipy.signal.butter(2, lowpass_hz / (fs / 2))
            x = scipy.signal.filtfilt(b, a, x)
        data[name] = (x, gradient(x, fs))
    if data:
        report["joints"] = {
            name: {
                "rom_deg": float(np.max(x) - np.min(x)),
                "peak_abs_vel_dps": float(np.max(np.abs(v))),
                "mean_abs_vel_dps": float(np.mean(np.abs(v))),
                "n_reps": count_reps(x),
            }
            for name, (x, v) in sorted(data.items())
        }
        report["fingers"] = {}
        for f in FINGERS:
            mine = [data[n] for n in data if n.split("_")[0] == f]
            if mine:
                report["fingers"][f] = finger([m[0] for m in mine], [m[1] for m in mine], fs)
    sections = {}
    for key, field in (("gyro", "gyro_dps"), ("accel", "accel_ms2")):
        if sensors.get(field) is not None:
            sections[key] = tremor([sensors[field][a] for a in "xyz"], fs)
    if sections:
        report["tremor"] = sections
    if sensors.get("grip_force_n") is not None:
        report["grip"] = grip(sensors["grip_force_n"], fs)
    return report


def to_json(value):
    """NaN and ±inf become null, as serde_json writes them."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def load_sensors(path):
    with open(path) as fh:
        doc = json.load(fh)
    return doc["sensors"] if "sensors" in doc else doc


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("analyze", "bench"))
    parser.add_argument("file")
    parser.add_argument("--raw", action="store_true", help="no angle low-pass")
    parser.add_argument("--lowpass-hz", type=float, default=DEFAULT_CUTOFF_HZ)
    parser.add_argument("--seconds", type=float, default=5.0, help="bench: minimum measuring time")
    args = parser.parse_args()
    cutoff = None if args.raw else args.lowpass_hz
    sensors = load_sensors(args.file)
    if args.command == "analyze":
        json.dump(to_json(analyze(sensors, cutoff)), sys.stdout)
        print()
        return
    analyze(sensors, cutoff)  # warm-up
    runs, start = 0, time.perf_counter()
    while True:
        analyze(sensors, cutoff)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds:
            break
    print(json.dumps({"impl": "numpy", "runs": runs, "seconds": elapsed, "analyses_per_sec": runs / elapsed}))


if __name__ == "__main__":
    main()
