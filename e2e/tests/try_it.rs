//! The README's "Try it" section, run as written: every command of its marked block,
//! with bash, against a real gateway and worker, so the first thing a newcomer runs
//! cannot rot. And every recording in `examples/recordings/` is accepted and analysed.

// The gateway's test helpers, shared by path; only part of them is used here.
#[allow(dead_code)]
#[path = "../../gateway/tests/api/feed_helpers.rs"]
mod feed_helpers;
#[allow(dead_code)]
#[path = "../../gateway/tests/api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../../gateway/tests/api/upload_helpers.rs"]
mod upload_helpers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::worker::start_worker;
use serde_json::Value;

use feed_helpers::{TokenIn, connect};
use helpers::spawn_app;
use upload_helpers::{accepted_game_id, post_game, user};

/// The HTML comment that marks the block; invisible when the README is rendered.
const MARKER: &str = "<!-- try-it:";

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ is in the repository")
        .to_owned()
}

/// The commands of the fenced block after [`MARKER`]: one per line, `\` continuing a
/// line, blank lines and comments left out.
fn try_it_commands(readme: &str) -> Vec<String> {
    let after_marker = readme
        .split_once(MARKER)
        .expect("README.md marks its Try-it block")
        .1;
    let block = after_marker
        .split_once("```")
        .and_then(|(_, fenced)| fenced.split_once('\n'))
        .and_then(|(_info, body)| body.split_once("\n```"))
        .expect("a fenced block follows the marker")
        .0;
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(continued) => {
                pending.push_str(continued);
                pending.push(' ');
            }
            None => {
                pending.push_str(trimmed);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// One bash script running `commands` in order in the same shell (variables carry
/// over, as when pasted), stopping at the first that exits non-zero and naming it.
fn script_of(commands: &[String]) -> String {
    let mut script = String::from("set -o pipefail\n");
    for (index, command) in commands.iter().enumerate() {
        let number = index + 1;
        let quoted = command.replace('\'', r"'\''");
        script.push_str(&format!(
            "{{ {command}\n}}; status=$?\n\
             if [ $status -ne 0 ]; then echo 'try-it: command {number} exited '$status': {quoted}' >&2; exit 1; fi\n"
        ));
    }
    script
}

#[test]
fn the_try_it_block_has_the_whole_walk_through() {
    let readme = std::fs::read_to_string(repository_root().join("README.md")).expect("README");
    let commands = try_it_commands(&readme);
    for step in [
        "/register",
        "/login",
        "/game",
        "examples/watch.py",
        "/games/",
        "/progress",
        "/sync",
    ] {
        assert!(
            commands.iter().any(|command| command.contains(step)),
            "the Try-it block lacks {step}: {commands:#?}"
        );
    }
    assert!(
        commands.iter().all(|command| !command.contains("```")),
        "{commands:#?}"
    );
}

#[tokio::test]
async fn every_command_of_the_readmes_try_it_runs_and_the_game_ends_processed() {
    let app = spawn_app().await;
    let worker = start_worker(app.bus.settings(), &app.store, 2, 4)
        .await
        .expect("the worker starts on the gateway's stack");
    let root = repository_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let commands = try_it_commands(&readme);

    // tokio's process, so the gateway on this runtime keeps serving the commands.
    let run = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script_of(&commands))
        .current_dir(&root)
        .env("M2M", &app.address)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the Try-it commands finish within 3 minutes")
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // The reads are the last lines: /games/{id}, /progress, /sync, one JSON each.
    let answers: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let notice = answers
        .iter()
        .find(|answer| answer["type"] == "game.processed")
        .unwrap_or_else(|| panic!("the socket printed the notification:\n{stdout}"));
    let [game, progress, sync] = &answers[answers.len() - 3..] else {
        panic!("three reads at the end:\n{stdout}");
    };
    assert_eq!(game["status"], "processed", "{game}");
    assert_eq!(notice["game_id"], game["game_id"], "{notice}");
    assert!(
        game["metrics"]["fingers"]["index"]["sparc_mean"].is_f64(),
        "{game}"
    );
    assert!(
        progress.to_string().contains("grasp_and_release"),
        "{progress}"
    );
    assert_eq!(sync["changes"][0]["type"], "game.processed", "{sync}");
    assert_eq!(
        sync["changes"][0]["game"]["game_id"], game["game_id"],
        "{sync}"
    );
    worker.stop().await.expect("the worker stops cleanly");
}

#[tokio::test]
async fn every_example_recording_is_accepted_and_analysed() {
    let app = spawn_app().await;
    let worker = start_worker(app.bus.settings(), &app.store, 2, 4)
        .await
        .expect("the worker starts on the gateway's stack");
    let (access, _) = user(&app).await;
    let mut phone = connect(&app.address, Some(&access), TokenIn::Header, None)
        .await
        .expect("socket");
    phone.ready().await;

    let directory = repository_root().join("examples/recordings");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .expect("examples/recordings")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    for file in &files {
        let body = std::fs::read(file).expect("readable");
        let key = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let game_id = accepted_game_id(post_game(&app, &access, Some(&key), body, &[]).await).await;
        let notice = phone
            .next_json(Duration::from_secs(60))
            .await
            .expect("a notification within a minute");
        assert_eq!(notice["type"], "game.processed", "{file:?}: {notice}");
        assert_eq!(notice["game_id"], game_id.as_str(), "{file:?}: {notice}");
    }
    worker.stop().await.expect("the worker stops cleanly");
}
