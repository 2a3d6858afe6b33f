//! B11: a patient's progress on one metric across sessions.
//!
//! # Where the SEM comes from
//!
//! `MDC95 = 1.96·√2·SEM` needs the standard error of measurement of the metric. The
//! textbook estimate is `SEM = SD·√(1 − ICC)` (Weir 2005, J Strength Cond Res 19:231),
//! with SD the between-session spread of a stable state and ICC the test-retest
//! reliability. We take:
//! * SD from the patient's own **baseline sessions** (sample SD, ddof = 1): they are
//!   the repeated measurements closest to "the same state", and they make the
//!   threshold patient-specific, as a clinician's MDC would be;
//! * ICC from configuration, default [`DEFAULT_ICC`] = 0.75, the lower bound of
//!   "good" reliability (Koo & Li 2016). A lower ICC gives a larger SEM, hence fewer
//!   changes flagged as real: the conservative error for a progress report.
//!
//! When a published or locally measured SEM exists for a metric, pass it as
//! [`SemSource::Fixed`] instead. With fewer than two baseline sessions the SD, and so
//! the MDC, is undefined (NaN) and no change is flagged as real.

use serde::Serialize;

use super::AnalyticsError;

/// The default test-retest ICC used to turn the baseline SD into a SEM.
pub const DEFAULT_ICC: f64 = 0.75;

/// Whether a larger value of a metric means the patient got better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// B11: the improvement direction of a metric, by its name in the report.
///
/// Higher is better for SPARC, LDLJ, ROM, TAM, peak velocity and grip; lower for
/// movement units, tremor and hold CV. Descriptive metrics (counts, durations,
/// frequencies) have no direction.
pub fn improvement_direction(metric: &str) -> Option<Direction> {
    match metric {
        "sparc_mean"
        | "ldlj_mean"
        | "rom_deg"
        | "tam_partial_deg"
        | "peak_abs_vel_dps"
        | "peak_joint_space_speed_dps"
        | "peak_force"
        | "mean_ep_peak"
        | "mean_max_rfd"
        | "mean_hold_mean" => Some(Direction::HigherIsBetter),
        "movement_units_mean" | "band_power" | "tremor_rms" | "power_ratio" | "mean_hold_cv" => {
            Some(Direction::LowerIsBetter)
        }
        _ => None,
    }
}

/// How the standard error of measurement is obtained (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SemSource {
    /// A known SEM in the metric's units.
    Fixed(f64),
    /// `SD(baseline sessions, ddof=1) · √(1 − icc)`.
    BaselineSd { icc: f64 },
}

/// The B11 settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressConfig {
    /// `k`: the number of first sessions averaged into the baseline.
    pub baseline_sessions: usize,
    pub sem: SemSource,
}

impl Default for ProgressConfig {
    fn default() -> Self {
        Self {
            baseline_sessions: 3,
            sem: SemSource::BaselineSd { icc: DEFAULT_ICC },
        }
    }
}

/// One session's value of a metric, at `x` = the session index or day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionValue {
    pub x: f64,
    pub value: f64,
}

/// B11 for one metric over a patient's sessions, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    pub n_sessions: usize,
    /// Mean of the first `min(k, n)` sessions.
    pub baseline: f64,
    /// The most recent session's value.
    pub latest: f64,
    /// `latest − baseline`.
    pub change: f64,
    /// `100 · change / |baseline|`; the absolute value keeps the sign of the change
    /// for negative metrics (SPARC, LDLJ). NaN when the baseline is 0.
    pub pct_change: f64,
    /// OLS of value on x (NaN below two distinct x).
    pub slope: f64,
    pub intercept: f64,
    /// NaN when the values do not vary (R² is 0/0).
    pub r_squared: f64,
    pub direction: Option<Direction>,
    /// Whether the change goes the better way (None without a direction).
    pub improved: Option<bool>,
    pub sem: f64,
    /// `1.96·√2·SEM`.
    pub mdc95: f64,
    /// `|change| > MDC95`: a change larger than measurement noise.
    pub real_change: bool,
}

/// B11: baseline, change, trend and real-change flag for `metric` over `sessions`.
pub fn progress(
    metric: &str,
    sessions: &[SessionValue],
    config: &ProgressConfig,
) -> Result<Progress, AnalyticsError> {
    let Some(last) = sessions.last() else {
        return Err(AnalyticsError::InvalidArgument(
            "progress needs at least one session".into(),
        ));
    };
    let k = config.baseline_sessions.min(sessions.len());
    let baseline_values: Vec<f64> = sessions[..k].iter().map(|s| s.value).collect();
    finish(
        metric,
        &Summary {
            n_sessions: sessions.len(),
            baseline_values: &baseline_values,
            latest: last.value,
            trend: ols(sessions),
        },
        config,
    )
}

/// What B11 needs of a metric's sessions, however it was gathered: from every
/// session ([`progress`]) or from running sums ([`super::running`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary<'a> {
    pub n_sessions: usize,
    /// The first `min(k, n)` sessions' values, oldest first.
    pub baseline_values: &'a [f64],
    /// The most recent session's value.
    pub latest: f64,
    /// OLS of value on x: (slope, intercept, R²).
    pub trend: (f64, f64, f64),
}

/// B11 from a [`Summary`]: the one place the figures are derived, so the full
/// computation and the running one cannot drift apart.
pub fn finish(
    metric: &str,
    summary: &Summary<'_>,
    config: &ProgressConfig,
) -> Result<Progress, AnalyticsError> {
    if config.baseline_sessions == 0 {
        return Err(AnalyticsError::InvalidArgument(
            "the baseline needs at least one session".into(),
        ));
    }
    if summary.n_sessions == 0 || summary.baseline_values.is_empty() {
        return Err(AnalyticsError::InvalidArgument(
            "progress needs at least one session".into(),
        ));
    }
    let baseline = mean(summary.baseline_values);
    let change = summary.latest - baseline;
    let pct_change = if baseline == 0.0 {
        f64::NAN
    } else {
        100.0 * change / baseline.abs()
    };
    let (slope, intercept, r_squared) = summary.trend;
    let sem = match config.sem {
        SemSource::Fixed(sem) => sem,
        SemSource::BaselineSd { icc } => sample_sd(summary.baseline_values) * (1.0 - icc).sqrt(),
    };
    let mdc95 = 1.96 * std::f64::consts::SQRT_2 * sem;
    let direction = improvement_direction(metric);
    let improved = direction.map(|d| match d {
        Direction::HigherIsBetter => change > 0.0,
        Direction::LowerIsBetter => change < 0.0,
    });
    Ok(Progress {
        n_sessions: summary.n_sessions,
        baseline,
        latest: summary.latest,
        change,
        pct_change,
        slope,
        intercept,
        r_squared,
        direction,
        improved,
        sem,
        mdc95,
        // A NaN MDC compares false: no flag without a noise estimate.
        real_change: change.abs() > mdc95,
    })
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (ddof = 1); NaN below two values.
fn sample_sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Ordinary least squares `value = intercept + slope·x`: (slope, intercept, R²).
fn ols(sessions: &[SessionValue]) -> (f64, f64, f64) {
    let xs: Vec<f64> = sessions.iter().map(|s| s.x).collect();
    let ys: Vec<f64> = sessions.iter().map(|s| s.value).collect();
    let (mx, my) = (mean(&xs), mean(&ys));
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let syy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum();
    if sxx == 0.0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_res: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (y - intercept - slope * x).powi(2))
        .sum();
    (slope, intercept, 1.0 - ss_res / syy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<SessionValue> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| SessionValue { x: i as f64, value })
            .collect()
    }

    #[test]
    fn baseline_is_the_mean_of_the_first_k_sessions() {
        let p = progress(
            "rom_deg",
            &series(&[60.0, 62.0, 64.0, 70.0, 80.0]),
            &ProgressConfig::default(),
        )
        .expect("sessions given");
        assert_eq!(p.baseline, 62.0);
        assert_eq!(p.latest, 80.0);
        assert_eq!(p.change, 18.0);
        assert!((p.pct_change - 100.0 * 18.0 / 62.0).abs() < 1e-12);
    }

    #[test]
    fn a_perfect_line_has_r_squared_one() {
        let p = progress(
            "rom_deg",
            &series(&[1.0, 3.0, 5.0, 7.0]),
            &ProgressConfig::default(),
        )
        .expect("ok");
        assert!((p.slope - 2.0).abs() < 1e-12);
        assert!((p.intercept - 1.0).abs() < 1e-12);
        assert!((p.r_squared - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mdc_comes_from_the_baseline_sd_and_the_icc() {
        let config = ProgressConfig {
            baseline_sessions: 3,
            sem: SemSource::BaselineSd { icc: 0.75 },
        };
        let p = progress("tremor_rms", &series(&[10.0, 12.0, 14.0, 3.0]), &config).expect("ok");
        // SD = 2, SEM = 2·√0.25 = 1, MDC95 = 1.96·√2 ≈ 2.77; change = 3 − 12 = −9.
        assert!((p.sem - 1.0).abs() < 1e-12);
        assert!((p.mdc95 - 1.96 * 2f64.sqrt()).abs() < 1e-12);
        assert!(p.real_change);
        assert_eq!(p.direction, Some(Direction::LowerIsBetter));
        assert_eq!(p.improved, Some(true));
    }

    #[test]
    fn a_change_within_the_mdc_is_not_real() {
        let config = ProgressConfig {
            baseline_sessions: 2,
            sem: SemSource::Fixed(5.0),
        };
        let p = progress("sparc_mean", &series(&[-2.0, -2.2, -1.5]), &config).expect("ok");
        assert!(!p.real_change);
        // SPARC is negative: higher (closer to 0) is better, and pct keeps that sign.
        assert_eq!(p.improved, Some(true));
        assert!(p.pct_change > 0.0);
    }

    #[test]
    fn one_session_has_no_trend_and_no_real_change() {
        let p = progress("rom_deg", &series(&[50.0]), &ProgressConfig::default()).expect("ok");
        assert!(p.slope.is_nan() && p.mdc95.is_nan());
        assert!(!p.real_change);
    }

    #[test]
    fn no_sessions_is_an_error() {
        assert!(progress("rom_deg", &[], &ProgressConfig::default()).is_err());
    }
}
