//! Progress of a long command: a live bar on a terminal, plain lines otherwise.
//!
//! Both go to stderr, so stdout stays clean for what the command lists.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

/// How often a plain progress line is written when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// Reports how far along the stream a command is: `position` out of `total`
/// stream offsets scanned, and how many events it acted on.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    /// What was done to the events acted on: "republished", "matching".
    acted: &'static str,
    total: u64,
    start: Instant,
    view: View,
}

#[derive(Debug)]
enum View {
    Bar(ProgressBar),
    Lines { last: Instant },
}

impl Progress {
    pub fn new(label: &'static str, acted: &'static str, total: u64) -> Self {
        let view = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} offsets, {msg}, ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label);
            bar.set_message(format!("0 {acted}"));
            View::Bar(bar)
        } else {
            View::Lines {
                last: Instant::now(),
            }
        };
        Self {
            label,
            acted,
            total,
            start: Instant::now(),
            view,
        }
    }

    /// `scanned` offsets read so far, `acted` events republished (or listed).
    pub fn update(&mut self, scanned: u64, acted: u64) {
        match &mut self.view {
            View::Bar(bar) => {
                bar.set_position(scanned);
                // Redrawing the message is what costs; indicatif rate-limits the draw.
                if scanned.is_multiple_of(256) {
                    let rate = per_second(scanned, self.start);
                    bar.set_message(format!("{acted} {}, {rate:.0} offsets/s", self.acted));
                }
            }
            View::Lines { last } => {
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    eprintln!("{}", self.line(scanned, acted));
                }
            }
        }
    }

    fn line(&self, scanned: u64, acted: u64) -> String {
        let rate = per_second(scanned, self.start);
        let eta = if rate > 0.0 {
            format!("{:.0}s", self.total.saturating_sub(scanned) as f64 / rate)
        } else {
            "?".into()
        };
        format!(
            "{}: {scanned}/{} offsets scanned, {acted} {}, {rate:.0} offsets/s, ETA {eta}",
            self.label, self.total, self.acted
        )
    }

    pub fn finish(self) {
        if let View::Bar(bar) = self.view {
            bar.finish_and_clear();
        }
    }
}

fn per_second(count: u64, since: Instant) -> f64 {
    let elapsed = since.elapsed().as_secs_f64();
    if elapsed > 0.0 {
        count as f64 / elapsed
    } else {
        0.0
    }
}
