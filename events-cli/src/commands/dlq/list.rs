//! `events dlq list`: one line per dead letter.

use anyhow::Context as _;
use shared_events::Bus;

use crate::cli::DlqListArgs;
use crate::out;

pub async fn run(bus: &Bus, args: DlqListArgs) -> anyhow::Result<()> {
    let browse = super::take_all(bus).await?;
    // Hand everything back before printing: a slow reader of our output must not
    // keep the dead letters hidden.
    let lines: Vec<String> = browse
        .taken
        .iter()
        .map(|taken| {
            if args.json {
                serde_json::to_string(&taken.dead).unwrap_or_default()
            } else {
                taken.dead.line()
            }
        })
        .collect();
    let queue = browse.queue.clone();
    browse
        .hand_back()
        .await
        .context("Failed to hand the dead letters back")?;
    for line in &lines {
        out::line(line).context("Failed to write to stdout")?;
    }
    if !args.json {
        eprintln!("{} dead letters in `{queue}`.", lines.len());
    }
    Ok(())
}
