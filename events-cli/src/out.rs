//! Writing results to stdout, one line at a time.
//!
//! `println!` panics when stdout is a closed pipe (`events tail | head`); these
//! return the error instead, and `main` treats a closed pipe as a normal end.

use std::io::Write as _;

/// Writes one line to stdout and flushes it, so a follower sees it at once.
pub fn line(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.write_all(b"\n")?;
    stdout.flush()
}

/// True if `error` is stdout being closed by its reader.
pub fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
