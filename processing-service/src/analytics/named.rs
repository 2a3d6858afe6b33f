//! A report as named scalar metrics: what progress is computed over.

use serde_json::Value;

/// Every finite number of a report's JSON, keyed by its dotted path
/// (`fingers.index.sparc_mean`, `tremor.gyro.tremor_rms`, `grip.peak_force`).
/// Non-finite values are `null` in the JSON and are left out.
pub fn flatten(report: &Value) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    walk(report, &mut String::new(), &mut out);
    out
}

fn walk(value: &Value, path: &mut String, out: &mut Vec<(String, f64)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                walk(child, path, out);
                path.truncate(len);
            }
        }
        Value::Number(number) => {
            if let Some(x) = number.as_f64().filter(|x| x.is_finite()) {
                out.push((path.clone(), x));
            }
        }
        _ => {}
    }
}

/// The metric's own name (the last path segment), which decides its direction.
pub fn leaf(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_numbers_get_dotted_names_and_nulls_are_left_out() {
        let report = json!({
            "fingers": {"index": {"sparc_mean": -1.5, "ldlj_mean": null}},
            "grip": {"peak_force": 30.0, "n_grips": 2}
        });
        let mut metrics = flatten(&report);
        metrics.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            metrics,
            vec![
                ("fingers.index.sparc_mean".to_owned(), -1.5),
                ("grip.n_grips".to_owned(), 2.0),
                ("grip.peak_force".to_owned(), 30.0),
            ]
        );
        assert_eq!(leaf("fingers.index.sparc_mean"), "sparc_mean");
    }
}
