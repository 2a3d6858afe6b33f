//! `GET /admin`: the page, rendered here with every interpolated value
//! HTML-escaped, and its script and style (`assets/`), served from the binary.
//!
//! The page itself holds no data: the browser's navigation cannot carry the
//! token (it lives in `sessionStorage`), so the script fetches everything. The
//! Content-Security-Policy allows only this origin's script, style and fetches:
//! no inline script runs, so text from a dead letter can never become code, and
//! the script writes all data with `textContent`.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::queues::watched;
use crate::error::ApiError;
use crate::state::AppState;

const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; \
    base-uri 'none'";

pub async fn page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let dashboard = state.admin.dashboard().ok_or(ApiError::NotFound)?;
    let prefix = &dashboard.bus.settings().prefix;
    let rows: String = watched(dashboard)
        .iter()
        .map(|(name, role, _)| {
            format!(
                "<tr data-queue=\"{name}\"><th scope=\"row\">{name}</th><td>{role}</td>\
                 <td class=\"num ready\">…</td><td class=\"num consumers\">…</td>\
                 <td class=\"num rate\">…</td></tr>\n",
                name = escape(name),
                role = escape(&role.replace('_', " ")),
            )
        })
        .collect();
    let html = fill(
        TEMPLATE,
        &[
            ("prefix", &escape(prefix)),
            ("version", &escape(env!("CARGO_PKG_VERSION"))),
            ("queue_rows", &rows),
        ],
    );
    Ok(with_headers(html, "text/html; charset=utf-8"))
}

pub async fn script(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.admin.dashboard().ok_or(ApiError::NotFound)?;
    Ok(with_headers(
        SCRIPT.to_owned(),
        "text/javascript; charset=utf-8",
    ))
}

pub async fn style(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.admin.dashboard().ok_or(ApiError::NotFound)?;
    Ok(with_headers(STYLE.to_owned(), "text/css; charset=utf-8"))
}

fn with_headers(body: String, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `template` with each `{name}` replaced by its value, in one pass: a value
/// that happens to contain a placeholder is not expanded again.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = values
            .iter()
            .find(|(name, _)| after.starts_with(name) && after[name.len()..].starts_with('}'));
        match hit {
            Some((name, value)) => {
                out.push_str(value);
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text made safe inside HTML elements and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>m2m operations · {prefix}</title>
<link rel="stylesheet" href="/admin/app.css">
<script src="/admin/app.js" defer></script>
</head>
<body>
<header>
  <h1>m2m operations</h1>
  <p>Bus prefix <code>{prefix}</code> · gateway {version} · <span id="updated">not signed in</span></p>
  <button type="button" id="sign-out" hidden>Sign out</button>
</header>

<form id="login">
  <label for="token">Admin token</label>
  <input id="token" name="token" type="password" autocomplete="off" required>
  <button type="submit" id="sign-in">Sign in</button>
  <p id="login-error" role="alert"></p>
</form>

<main id="dashboard" hidden>
  <section>
    <h2>Queues</h2>
    <table id="queues">
      <thead><tr><th>queue</th><th>role</th><th>ready</th><th>consumers</th><th>change/s</th></tr></thead>
      <tbody>
{queue_rows}      </tbody>
    </table>
    <p class="note">Ready messages only (not those being handled). change/s is the depth's change between polls: positive means the queue is growing.</p>
    <p class="error" id="queues-error" role="alert"></p>
  </section>

  <section>
    <h2>Processing</h2>
    <dl id="latency">
      <dt>latency p50</dt><dd id="p50">…</dd>
      <dt>latency p99</dt><dd id="p99">…</dd>
      <dt>slowest</dt><dd id="max">…</dd>
      <dt>games measured</dt><dd id="sample">…</dd>
      <dt>analysed, last minute</dt><dd id="processed">…</dd>
      <dt>failed, last minute</dt><dd id="failed">…</dd>
    </dl>
    <h3>Recent failed analyses</h3>
    <table id="failures">
      <thead><tr><th>analysed</th><th>game</th><th>user</th><th>exercise</th><th>reason</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="error" id="processing-error" role="alert"></p>
  </section>

  <section>
    <h2>Dead letters</h2>
    <p id="dlq-summary">…</p>
    <p id="dlq-status" role="status"></p>
    <table id="dead-letters">
      <thead><tr><th>died</th><th>type</th><th>from</th><th>tries</th><th>by</th><th>reason</th><th>game</th><th>id</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="error" id="dead-letters-error" role="alert"></p>
  </section>

  <section>
    <h2>Jobs</h2>
    <div id="jobs"></div>
    <p class="error" id="jobs-error" role="alert"></p>
  </section>
</main>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("m2m.processing"), "m2m.processing");
    }

    #[test]
    fn placeholders_are_filled_once_and_values_are_not_expanded_again() {
        let filled = fill(
            "<p>{a} and {b} {unknown}</p>",
            &[("a", "{b}"), ("b", "two")],
        );
        assert_eq!(filled, "<p>{b} and two {unknown}</p>");
    }

    #[test]
    fn the_template_has_no_inline_script_style_or_handlers() {
        assert!(!TEMPLATE.contains("<script>"));
        assert!(!TEMPLATE.contains("<style"));
        assert!(!TEMPLATE.contains("style="));
        let handler = TEMPLATE.split_whitespace().any(|word| {
            word.starts_with("on")
                && word.contains('=')
                && word[2..word.find('=').unwrap_or(2)]
                    .chars()
                    .all(|c| c.is_ascii_lowercase())
        });
        assert!(!handler, "no inline event handlers");
    }
}
