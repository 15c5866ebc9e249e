//! What a connection is doing, for its watchdog: requests in flight, bytes
//! read, whether its handshake is done, and since when it has been idle.

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed},
        Arc,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::ConnLimits;

/// Counters one connection's IO, service and watchdog share.
#[derive(Debug)]
pub struct Activity {
    born: Instant,
    in_flight: AtomicUsize,
    ready: AtomicBool,
    bytes_read: AtomicU64,
    /// `bytes_read` when the last request finished.
    idle_bytes: AtomicU64,
    /// Milliseconds after `born` when the last request finished.
    idle_since_ms: AtomicU64,
}

/// A request in flight; the connection is idle again when every one is dropped.
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Activity {
    /// A connection accepted now: not ready, idle since now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            born: Instant::now(),
            in_flight: AtomicUsize::new(0),
            ready: AtomicBool::new(false),
            bytes_read: AtomicU64::new(0),
            idle_bytes: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    /// A request starts (which also means the handshake is done).
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Relaxed);
        self.ready.store(true, Relaxed);
        Busy(self.clone())
    }

    /// Marks the handshake (HTTP/2 preface and SETTINGS, SPOE HELLO) done.
    pub fn set_ready(&self) {
        self.ready.store(true, Relaxed);
    }

    /// True once the handshake or a first request head is complete.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Relaxed)
    }

    /// How long the connection has been idle; `None` while a request is in flight.
    pub fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Relaxed) > 0 {
            return None;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Relaxed));
        Some(self.born.elapsed().saturating_sub(since))
    }

    /// True when bytes arrived since the last request finished (a request head
    /// is being received).
    fn bytes_since_idle(&self) -> bool {
        self.bytes_read.load(Relaxed) != self.idle_bytes.load(Relaxed)
    }

    /// Completes once the connection has been idle for `timeout`.
    pub async fn idle(&self, timeout: Duration) {
        loop {
            let wait = match self.idle_for() {
                None => timeout,
                Some(idle) if idle >= timeout => return,
                Some(idle) => timeout - idle,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        let now = u64::try_from(a.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        a.idle_since_ms.store(now, Relaxed);
        a.idle_bytes.store(a.bytes_read.load(Relaxed), Relaxed);
        a.in_flight.fetch_sub(1, Relaxed);
    }
}

/// Why a watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// The handshake or a request head took longer than the header timeout.
    Handshake,
    /// No request in flight for the idle timeout.
    Idle,
}

/// Samples an [`Activity`] a few times per timeout and says when it expired.
#[derive(Debug)]
pub struct Watchdog {
    activity: Arc<Activity>,
    header_timeout: Duration,
    idle_timeout: Duration,
    /// HTTP/1: bytes after a finished request start the next request head.
    heads_after_idle: bool,
    tick: Duration,
    head_since: Option<Instant>,
}

impl Watchdog {
    /// A watchdog for `activity` under `limits`; `heads_after_idle` for HTTP/1.
    pub fn new(activity: Arc<Activity>, limits: &ConnLimits, heads_after_idle: bool) -> Self {
        let shortest = limits.header_timeout.min(limits.idle_timeout);
        Self {
            activity,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            heads_after_idle,
            tick: (shortest / 8).clamp(Duration::from_millis(10), Duration::from_secs(1)),
            head_since: None,
        }
    }

    /// Completes when the connection's handshake, a request head or its idle
    /// time has run over.
    pub async fn expired(&mut self) -> Expired {
        loop {
            tokio::time::sleep(self.tick).await;
            if let Some(expired) = self.check(Instant::now()) {
                return expired;
            }
        }
    }

    fn check(&mut self, now: Instant) -> Option<Expired> {
        let a = &self.activity;
        if !a.is_ready() {
            return (a.born.elapsed() >= self.header_timeout).then_some(Expired::Handshake);
        }
        let Some(idle) = a.idle_for() else {
            self.head_since = None;
            return None;
        };
        if self.heads_after_idle && a.bytes_since_idle() {
            let since = *self.head_since.get_or_insert(now);
            if now.duration_since(since) >= self.header_timeout {
                return Some(Expired::Handshake);
            }
        } else {
            self.head_since = None;
        }
        (idle >= self.idle_timeout).then_some(Expired::Idle)
    }
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE_LEN: usize = 24;
/// A frame header: 3 bytes length, type, flags, 4 bytes stream id.
const FRAME_HEADER_LEN: usize = 9;

/// Counts the bytes read from `inner` into its [`Activity`]; for HTTP/2, marks
/// it ready once the preface and the first frame (SETTINGS) are read.
#[derive(Debug)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    /// HTTP/2, preface not yet complete: the first bytes and how many were read.
    preface: Option<([u8; PREFACE_LEN + FRAME_HEADER_LEN], usize)>,
}

impl<S> Tracked<S> {
    /// Wraps `inner`; `http2` to watch for the preface.
    pub fn new(inner: S, activity: Arc<Activity>, http2: bool) -> Self {
        Self {
            inner,
            activity,
            preface: http2.then_some(([0; PREFACE_LEN + FRAME_HEADER_LEN], 0)),
        }
    }

    fn on_read(&mut self, bytes: &[u8]) {
        self.activity
            .bytes_read
            .fetch_add(bytes.len() as u64, Relaxed);
        let Some((head, seen)) = &mut self.preface else {
            return;
        };
        if *seen < head.len() {
            let take = bytes.len().min(head.len() - *seen);
            head[*seen..*seen + take].copy_from_slice(&bytes[..take]);
        }
        *seen += bytes.len();
        if *seen < head.len() {
            return;
        }
        let len = &head[PREFACE_LEN..PREFACE_LEN + 3];
        let frame = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
        if *seen >= head.len() + frame {
            self.activity.set_ready();
            self.preface = None;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let filled = &buf.filled()[before..];
            if !filled.is_empty() {
                self.on_read(filled);
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    #[test]
    fn http2_is_ready_after_the_preface_and_the_whole_first_settings_frame() {
        let activity = Activity::new();
        let mut io = Tracked::new((), activity.clone(), true);
        io.on_read(&PREFACE[..10]);
        io.on_read(&PREFACE[10..]);
        // SETTINGS with one 6-byte setting, delivered a byte at a time.
        let settings = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        for byte in &settings[..settings.len() - 1] {
            io.on_read(std::slice::from_ref(byte));
            assert!(!activity.is_ready());
        }
        io.on_read(&settings[settings.len() - 1..]);
        assert!(activity.is_ready());
        assert_eq!(activity.bytes_read.load(Relaxed), 39);
    }

    #[test]
    fn http1_watchdog_times_heads_and_idle() {
        let limits = ConnLimits {
            header_timeout: Duration::from_millis(50),
            idle_timeout: Duration::from_secs(60),
            ..ConnLimits::default()
        };
        let activity = Activity::new();
        let mut dog = Watchdog::new(activity.clone(), &limits, true);
        let mut io = Tracked::new((), activity.clone(), false);
        assert_eq!(dog.check(Instant::now()), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(dog.check(Instant::now()), Some(Expired::Handshake));
        drop(activity.begin());
        assert_eq!(dog.check(Instant::now()), None, "idle, no bytes since");
        io.on_read(b"GET / HT");
        assert_eq!(dog.check(Instant::now()), None, "a head just started");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(dog.check(Instant::now()), Some(Expired::Handshake));
        let busy = activity.begin();
        assert_eq!(dog.check(Instant::now()), None, "in flight");
        drop(busy);
        assert_eq!(
            activity.idle_for().map(|d| d < limits.idle_timeout),
            Some(true)
        );
    }
}
