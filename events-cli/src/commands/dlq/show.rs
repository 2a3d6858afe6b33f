//! `events dlq show <id>`: everything about one dead letter.

use anyhow::{Context as _, bail};
use shared_events::Bus;

use crate::cli::DlqShowArgs;
use crate::{out, render};

pub async fn run(bus: &Bus, args: DlqShowArgs) -> anyhow::Result<()> {
    let browse = super::take_all(bus).await?;
    let mut text = Vec::new();
    for taken in browse.taken.iter().filter(|t| t.dead.id == args.id) {
        let mut headers: Vec<String> = taken
            .properties
            .headers()
            .as_ref()
            .map(|headers| {
                headers
                    .into_iter()
                    .map(|(name, value)| format!("  {name}: {}", crate::headers::show(value)))
                    .collect()
            })
            .unwrap_or_default();
        headers.sort();
        text.push(format!(
            "{}\nheaders:\n{}\nbody:\n{}",
            taken.dead.line(),
            headers.join("\n"),
            render::pretty_body(&taken.body, args.full)
        ));
    }
    browse
        .hand_back()
        .await
        .context("Failed to hand the dead letters back")?;
    if text.is_empty() {
        bail!("No dead letter with id `{}`", args.id);
    }
    out::line(&text.join("\n\n")).context("Failed to write to stdout")
}
