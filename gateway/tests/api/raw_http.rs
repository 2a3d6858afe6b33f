//! HTTP/1.1 by hand over TCP, for clients no HTTP library would be: a body longer
//! than announced, headers that never end, a body sent a byte at a time.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the server before failing (rather than hanging).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A response as read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error.code` of the JSON error body.
    pub fn error_code(&self) -> String {
        let body: Value = serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "a JSON error body ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        });
        assert!(body["error"]["message"].is_string(), "{body}");
        body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error.code in {body}"))
            .to_owned()
    }
}

pub async fn connect(address: &str) -> TcpStream {
    TcpStream::connect(address).await.expect("connected")
}

/// A request head: the request line, `Host`, then `headers`, then the blank line.
pub fn head(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: gateway\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

pub async fn write_all(stream: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) {
    stream.write_all(bytes).await.expect("written");
}

/// Reads one response (head, then a `Content-Length` body or up to EOF); `None`
/// when the server closed the connection without answering.
pub async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> Option<RawResponse> {
    tokio::time::timeout(PATIENCE, read_response_now(stream))
        .await
        .expect("the server answers or closes in time")
}

async fn read_response_now(stream: &mut (impl AsyncRead + Unpin)) -> Option<RawResponse> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) if buffer.is_empty() => return None,
            Ok(0) | Err(_) => panic!(
                "the connection ended inside a response head: {:?}",
                String::from_utf8_lossy(&buffer)
            ),
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line in {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = buffer[head_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    loop {
        if length.is_some_and(|length| body.len() >= length) {
            break;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read) => body.extend_from_slice(&chunk[..read]),
        }
    }
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// Whether the server closes the connection (EOF or reset) without sending anything
/// more; panics if it sends bytes, fails if it does neither within [`PATIENCE`].
pub async fn closed_without_answer(stream: &mut (impl AsyncRead + Unpin)) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) => false,
        Err(_) => panic!("the server kept the connection open past {PATIENCE:?}"),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
