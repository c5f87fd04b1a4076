//! Malware scanning with clamd (ClamAV's daemon) while a file part streams through: each part
//! is sent to clamd with the INSTREAM protocol (`zINSTREAM\0`, then `<u32 length><bytes>`
//! chunks, then a zero length) over TCP or a unix socket, from a task fed through a bounded
//! channel. The inspector holds the part's last bytes and the closing delimiter back until
//! the verdict arrives (docs/ARCHITECTURE.md, "Malware scanning").

use crate::config::error::ConfigError;
use bytes::Bytes;
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// `[routes.upload.scan]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanFile {
    /// `host:port`, or `unix:/path/to/clamd.ctl`.
    pub clamd: String,
    /// Connecting, each write, and waiting for the verdict (default 10000).
    pub timeout_ms: Option<u64>,
    /// clamd down, slow or answering garbage: `refuse` (default, 503) or `allow`.
    pub on_error: Option<String>,
    /// Bytes sent to clamd per part (default 26214400, clamd's own StreamMaxLength default).
    pub max_bytes: Option<u64>,
    /// A larger part: `refuse` (default, 413) or `allow` (passes unscanned).
    pub over_limit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp(String),
    Unix(std::path::PathBuf),
}

/// A route's validated scan settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    pub target: Target,
    pub timeout: Duration,
    pub fail_open: bool,
    pub max_bytes: u64,
    pub allow_over_limit: bool,
}

fn allow(v: &Option<String>, at: &str, errors: &mut Vec<ConfigError>) -> bool {
    match v.as_deref() {
        None | Some("refuse") => false,
        Some("allow") => true,
        Some(other) => {
            errors.push(ConfigError::new(
                at,
                format!("{other:?}: use \"refuse\" or \"allow\""),
            ));
            false
        }
    }
}

impl ScanSettings {
    pub fn from_config(f: &ScanFile, at: &str) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let target = match f.clamd.strip_prefix("unix:") {
            Some(path) => Target::Unix(path.into()),
            None if f
                .clamd
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) =>
            {
                Target::Tcp(f.clamd.clone())
            }
            None => {
                errors.push(ConfigError::new(
                    format!("{at}.clamd"),
                    "use host:port or unix:/path/to/clamd.ctl",
                ));
                Target::Tcp(String::new())
            }
        };
        let fail_open = allow(&f.on_error, &format!("{at}.on_error"), &mut errors);
        let allow_over_limit = allow(&f.over_limit, &format!("{at}.over_limit"), &mut errors);
        if f.timeout_ms == Some(0) || f.max_bytes == Some(0) {
            errors.push(ConfigError::new(at, "timeout_ms and max_bytes must be > 0"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            target,
            timeout: Duration::from_millis(f.timeout_ms.unwrap_or(10_000)),
            fail_open,
            max_bytes: f.max_bytes.unwrap_or(25 * 1024 * 1024),
            allow_over_limit,
        })
    }
}

/// A part's scan result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// clamd's signature name.
    Infected(String),
    /// Larger than `max_bytes`: not (completely) scanned.
    OverLimit,
    /// clamd could not give a verdict: `connect`, `timeout`, `protocol`, `limit` (clamd's own
    /// stream limit), and what happened.
    Failed(&'static str, String),
}

impl Verdict {
    /// The label in metrics and verdicts.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Infected(_) => "infected",
            Self::OverLimit => "over_limit",
            Self::Failed(..) => "error",
        }
    }
}

/// Chunks queued for clamd before the task takes them (one feed's worth at most: the inspector
/// flushes after every feed).
const CHANNEL: usize = 4;

/// One file part's scan in progress.
pub struct Scan {
    max_bytes: u64,
    sent: u64,
    queue: VecDeque<Bytes>,
    tx: Option<mpsc::Sender<Bytes>>,
    verdict: oneshot::Receiver<Verdict>,
    timeout: Duration,
}

impl Scan {
    /// Starts the task talking to clamd (connecting in the background).
    pub fn start(settings: &ScanSettings) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let (done, verdict) = oneshot::channel();
        let (target, timeout) = (settings.target.clone(), settings.timeout);
        tokio::spawn(async move {
            let v = run(target, timeout, rx).await;
            let _ = done.send(v);
        });
        Self {
            max_bytes: settings.max_bytes,
            sent: 0,
            queue: VecDeque::new(),
            tx: Some(tx),
            verdict,
            timeout,
        }
    }

    /// Queues part bytes (up to the cap; beyond it the scan is over its limit).
    pub fn push(&mut self, data: &Bytes) {
        let room = self.max_bytes.saturating_sub(self.sent);
        let take = (data.len() as u64).min(room) as usize;
        if take > 0 {
            self.queue.push_back(data.slice(..take));
        }
        self.sent += data.len() as u64;
    }

    pub fn has_backlog(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Hands queued chunks to the task, waiting while clamd is slower than the upload. A task
    /// that stopped (clamd failed) drops them: its verdict says why.
    pub async fn flush(&mut self) {
        while let Some(chunk) = self.queue.pop_front() {
            let Some(tx) = &self.tx else { return };
            if tx.send(chunk).await.is_err() {
                self.queue.clear();
                self.tx = None;
            }
        }
    }

    /// The part ended: sends what is queued, ends the stream and waits for clamd's answer.
    pub async fn verdict(mut self) -> Verdict {
        self.flush().await;
        self.tx = None;
        let answer = tokio::time::timeout(self.timeout, self.verdict).await;
        let v = match answer {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => Verdict::Failed("protocol", "the scan task ended".into()),
            Err(_) => Verdict::Failed("timeout", "no verdict in time".into()),
        };
        match v {
            Verdict::Clean if self.sent > self.max_bytes => Verdict::OverLimit,
            v => v,
        }
    }
}

async fn run(target: Target, timeout: Duration, rx: mpsc::Receiver<Bytes>) -> Verdict {
    let connect = async {
        match &target {
            Target::Tcp(addr) => tokio::net::TcpStream::connect(addr)
                .await
                .map(|s| Box::new(s) as Box<dyn Stream>),
            Target::Unix(path) => tokio::net::UnixStream::connect(path)
                .await
                .map(|s| Box::new(s) as Box<dyn Stream>),
        }
    };
    let stream = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Verdict::Failed("connect", e.to_string()),
        Err(_) => return Verdict::Failed("timeout", "connecting to clamd".into()),
    };
    instream(stream, timeout, rx).await
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The INSTREAM exchange on a connected socket.
async fn instream(
    mut s: Box<dyn Stream>,
    timeout: Duration,
    mut rx: mpsc::Receiver<Bytes>,
) -> Verdict {
    let failed = |e: std::io::Error| Verdict::Failed("protocol", e.to_string());
    let write = async |s: &mut Box<dyn Stream>, data: &[u8]| match tokio::time::timeout(
        timeout,
        s.write_all(data),
    )
    .await
    {
        Ok(r) => r.map_err(failed),
        Err(_) => Err(Verdict::Failed("timeout", "writing to clamd".into())),
    };
    if let Err(v) = write(&mut s, b"zINSTREAM\0").await {
        return v;
    }
    while let Some(chunk) = rx.recv().await {
        let len = (chunk.len() as u32).to_be_bytes();
        if let Err(v) = write(&mut s, &len).await {
            return v;
        }
        if let Err(v) = write(&mut s, &chunk).await {
            return v;
        }
    }
    if let Err(v) = write(&mut s, &[0; 4]).await {
        return v;
    }
    let mut reply = Vec::new();
    let read = async {
        let mut buf = [0u8; 256];
        loop {
            let n = s.read(&mut buf).await?;
            reply.extend_from_slice(&buf[..n]);
            if n == 0 || reply.contains(&0) || reply.len() > 4096 {
                return Ok::<_, std::io::Error>(());
            }
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(())) => parse_reply(&reply),
        Ok(Err(e)) => failed(e),
        Err(_) => Verdict::Failed("timeout", "waiting for clamd's verdict".into()),
    }
}

/// `stream: OK`, `stream: <signature> FOUND`, `INSTREAM size limit exceeded. ERROR`, …
pub fn parse_reply(reply: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\0', '\n']).trim();
    let body = text.strip_prefix("stream:").map(str::trim);
    match body {
        Some("OK") => Verdict::Clean,
        Some(b) if b.ends_with(" FOUND") && b.len() > 6 => {
            Verdict::Infected(b[..b.len() - 6].trim().to_string())
        }
        _ if text.contains("size limit exceeded") => Verdict::Failed("limit", text.into()),
        _ => Verdict::Failed("protocol", format!("unexpected answer {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_parsed_strictly() {
        assert_eq!(parse_reply(b"stream: OK\0"), Verdict::Clean);
        assert_eq!(
            parse_reply(b"stream: Eicar-Test-Signature.UNOFFICIAL FOUND\0"),
            Verdict::Infected("Eicar-Test-Signature.UNOFFICIAL".into())
        );
        assert_eq!(
            parse_reply(b"INSTREAM size limit exceeded. ERROR\0").as_str(),
            "error"
        );
        for garbage in [
            &b""[..],
            b"OK",
            b"stream: FOUND",
            b"hello\0",
            b"stream: OKAY",
        ] {
            assert!(
                matches!(parse_reply(garbage), Verdict::Failed("protocol", _)),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn settings_are_checked() {
        let f = |s: &str| {
            ScanSettings::from_config(&toml::from_str(s).unwrap(), "routes[0].upload.scan")
        };
        let ok = f("clamd = \"127.0.0.1:3310\"").unwrap();
        assert!(!ok.fail_open && !ok.allow_over_limit);
        assert_eq!(ok.max_bytes, 25 * 1024 * 1024);
        assert_eq!(
            f("clamd = \"unix:/run/clamav/clamd.ctl\"\non_error = \"allow\"")
                .unwrap()
                .target,
            Target::Unix("/run/clamav/clamd.ctl".into())
        );
        assert!(f("clamd = \"clamd\"").is_err());
        assert!(f("clamd = \"h:1\"\non_error = \"maybe\"").is_err());
    }
}
