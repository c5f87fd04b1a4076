//! A client connection with the deadlines pingora 0.9 does not have: its first byte, each whole
//! HTTP/1 request head, and the idle time between two requests (docs/ARCHITECTURE.md,
//! "Connections"). pingora times each read (`client_read_timeout_ms`); a client trickling a
//! head a byte at a time passes every per-read timeout. This wrapper sits under pingora's
//! HTTP/1 and HTTP/2 code as the connection's [`Stream`] and fails a read with `TimedOut` when
//! the phase's deadline passes, which makes pingora close the connection.
//!
//! Phases: `Idle` (no byte of the next request yet: `first_byte` for a new connection,
//! `keepalive` after a request) → `Head` (bytes arrived: `head` from the first one) → `Open`
//! (the gateway's request filter read the head: the body's own limits apply) → `Idle` again when
//! the request is logged. An HTTP/2 connection (ALPN, or the h2c preface) is `Open` once it
//! started: pingora's `h2_idle_timeout` closes it when idle.

use async_trait::async_trait;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::TlsRef;
use pingora::protocols::{ALPN, tls::SslDigest};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType,
};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The deadlines (each at least 1 ms; validated by the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub first_byte: Duration,
    pub head: Duration,
    pub keepalive: Duration,
}

/// Which deadline closed a connection (the metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    FirstByte,
    Head,
    Keepalive,
}

impl Expired {
    pub fn label(self) -> &'static str {
        match self {
            Expired::FirstByte => "first_byte",
            Expired::Head => "head",
            Expired::Keepalive => "keepalive",
        }
    }
}

const NONE: u8 = 0;
const HEAD_READ: u8 = 1;
const REQUEST_DONE: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle(Expired),
    Head,
    Open,
}

/// A connection under deadlines (see the module comment).
#[derive(Debug)]
pub struct Deadlined {
    inner: Stream,
    deadlines: Deadlines,
    phase: Phase,
    sleep: Pin<Box<Sleep>>,
    /// Set by the request hooks through [`mark_head_read`] / [`mark_request_done`].
    signal: Arc<AtomicU8>,
    on_expiry: fn(Expired),
}

fn h2_preface(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes.starts_with(b"PRI ")
}

impl Deadlined {
    /// `stream` from its first byte on; `on_expiry` is told which deadline closed it.
    pub fn new(stream: Stream, deadlines: Deadlines, on_expiry: fn(Expired)) -> Self {
        let phase = if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            Phase::Open
        } else {
            Phase::Idle(Expired::FirstByte)
        };
        Self {
            inner: stream,
            deadlines,
            phase,
            sleep: Box::pin(tokio::time::sleep(deadlines.first_byte)),
            signal: Arc::new(AtomicU8::new(NONE)),
            on_expiry,
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        let after = match phase {
            Phase::Idle(Expired::FirstByte) => self.deadlines.first_byte,
            Phase::Idle(_) => self.deadlines.keepalive,
            Phase::Head => self.deadlines.head,
            Phase::Open => return,
        };
        self.sleep.as_mut().reset(Instant::now() + after);
    }

    /// Applies what the request hooks said since the last read.
    fn take_signal(&mut self) {
        match self.signal.swap(NONE, Ordering::AcqRel) {
            HEAD_READ => self.enter(Phase::Open),
            REQUEST_DONE => self.enter(Phase::Idle(Expired::Keepalive)),
            _ => {}
        }
    }

    /// The deadline that passed, if the phase has one and it did.
    fn expired(&mut self, cx: Option<&mut Context<'_>>) -> Option<Expired> {
        let which = match self.phase {
            Phase::Idle(which) => which,
            Phase::Head => Expired::Head,
            Phase::Open => return None,
        };
        let passed = match cx {
            Some(cx) => self.sleep.as_mut().poll(cx).is_ready(),
            None => Instant::now() >= self.sleep.deadline(),
        };
        passed.then(|| {
            (self.on_expiry)(which);
            which
        })
    }
}

fn timed_out(which: Expired) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{} deadline passed", which.label()),
    )
}

/// The deadline wrapper under a request's connection, if it has one (HTTP/1).
fn signal_of(stream: Option<&Stream>) -> Option<&Arc<AtomicU8>> {
    let stream = stream?;
    let any = (**stream).as_any();
    any.downcast_ref::<Deadlined>().map(|d| &d.signal)
}

/// The request's head was read: the head deadline no longer applies to this request.
pub fn mark_head_read(stream: Option<&Stream>) {
    if let Some(signal) = signal_of(stream) {
        signal.store(HEAD_READ, Ordering::Release);
    }
}

/// The request was answered and logged: the connection is idle until the next one starts.
pub fn mark_request_done(stream: Option<&Stream>) {
    if let Some(signal) = signal_of(stream) {
        signal.store(REQUEST_DONE, Ordering::Release);
    }
}

impl AsyncRead for Deadlined {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.take_signal();
        if let Some(which) = this.expired(None) {
            return Poll::Ready(Err(timed_out(which)));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let got = &buf.filled()[before..];
                if !got.is_empty() {
                    match this.phase {
                        Phase::Idle(Expired::FirstByte) if h2_preface(got) => {
                            this.enter(Phase::Open)
                        }
                        Phase::Idle(_) => this.enter(Phase::Head),
                        _ => {}
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.expired(Some(cx)) {
                Some(which) => Poll::Ready(Err(timed_out(which))),
                None => Poll::Pending,
            },
            other => other,
        }
    }
}

impl AsyncWrite for Deadlined {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for Deadlined {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

#[async_trait]
impl Peek for Deadlined {
    /// pingora peeks for the h2c preface before its first read: that wait has the first-byte
    /// deadline too.
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.take_signal();
        if matches!(self.phase, Phase::Open) {
            return self.inner.try_peek(buf).await;
        }
        let at = self.sleep.deadline();
        match tokio::time::timeout_at(at, self.inner.try_peek(buf)).await {
            Ok(peeked) => peeked,
            Err(_) => {
                let which = self.expired(None).unwrap_or(Expired::FirstByte);
                Err(timed_out(which))
            }
        }
    }
}

impl UniqueID for Deadlined {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Deadlined {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }
    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }
    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Deadlined {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }
    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for Deadlined {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for Deadlined {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }
    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}
