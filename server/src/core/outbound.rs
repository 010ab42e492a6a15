//! A connection's outbound queue: the bytes waiting to be written to it.
//!
//! Bytes are kept in a list of chunks rather than one buffer, so a backlog
//! never has to be moved into a larger buffer as it grows, and the memory of
//! each chunk goes back as soon as the chunk is written. Chunks start small
//! (most connections only ever get a few short lines) and grow with the
//! backlog up to [`MAX_CHUNK`]. They are written with vectored writes.
//!
//! Two parties write: the connection's writer task (which can wait for the
//! socket), and, at the end of a read batch, the reader of a publisher that
//! delivered to the connection, which writes what the socket takes at once
//! without waiting and leaves the rest to the writer. A publisher thus
//! delivers a small message without waking another task. The writer marks
//! the chunks it has taken as being written; nobody else writes then, so
//! bytes go out in the order they were queued.
//!
//! Flow control, as Go does it: a publisher's reader that has filled a
//! connection's backlog past half of max_pending stops before its next
//! message, flushes, and waits for the writer to bring the backlog back
//! under, for at most Go's stall time; below that a publisher never waits
//! for a subscriber. A connection that does not read is left to the write
//! deadline and max_pending.

use super::connection::{ClosedState, Connection};
use crate::options::go_duration;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Size of the first chunk of a backlog.
const MIN_CHUNK: usize = 512;
/// Largest chunk; a backlog grows by chunks of this size.
pub const MAX_CHUNK: usize = 64 * 1024;
/// Most chunks given to one vectored write.
const MAX_IOV: usize = 64;
/// Most bytes a publisher's reader writes for a subscriber itself; a larger
/// backlog is the writer's.
const MAX_DIRECT: usize = 256 * 1024;
/// Most connections a publisher's reader writes to itself after one read;
/// the writers of the others run in parallel.
pub const MAX_DIRECT_TARGETS: usize = 16;
/// Go's bounds on a stall past half of max_pending.
const STALL_MIN: Duration = Duration::from_millis(100);
const STALL_MAX: Duration = Duration::from_secs(1);

/// Queued bytes, in order.
#[derive(Default)]
pub struct Chunks {
    list: VecDeque<Vec<u8>>,
    /// Bytes at the start of the first chunk already written.
    front: usize,
    /// Bytes not yet written.
    len: usize,
}

impl Chunks {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `max` queued bytes (or all, when fewer), in order.
    pub fn front(&self, max: usize) -> Vec<&[u8]> {
        let mut left = max;
        let mut slices = Vec::new();
        for (i, c) in self.list.iter().enumerate() {
            if left == 0 {
                break;
            }
            let c = if i == 0 { &c[self.front..] } else { &c[..] };
            let c = &c[..c.len().min(left)];
            left -= c.len();
            slices.push(c);
        }
        slices
    }

    /// Number of chunks.
    pub fn count(&self) -> usize {
        self.list.len()
    }

    pub fn push(&mut self, mut data: &[u8]) {
        self.len += data.len();
        while !data.is_empty() {
            let tail = match self.list.back_mut() {
                Some(c) if c.len() < c.capacity() => c,
                _ => {
                    // Twice the backlog, within bounds.
                    let size = (2 * self.len).clamp(MIN_CHUNK, MAX_CHUNK);
                    self.list.push_back(Vec::with_capacity(size));
                    self.list.back_mut().expect("just pushed")
                }
            };
            let n = (tail.capacity() - tail.len()).min(data.len());
            tail.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
    }

    /// Pushes `parts` (of `len` bytes in all) back to back.
    pub fn push_all(&mut self, parts: &[&[u8]], len: usize) {
        if let Some(tail) = self.list.back_mut() {
            if tail.capacity() - tail.len() >= len {
                for p in parts {
                    tail.extend_from_slice(p);
                }
                self.len += len;
                return;
            }
        }
        for p in parts {
            self.push(p);
        }
    }

    /// Marks `n` bytes from the start written, dropping finished chunks.
    pub fn consume(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let first = self.list[0].len() - self.front;
            if n < first {
                self.front += n;
                return;
            }
            n -= first;
            self.front = 0;
            self.list.pop_front();
        }
        if self.len == 0 {
            self.list.clear();
            self.front = 0;
        }
    }

    /// The chunks as slices for one vectored write; returns how many.
    fn io_slices<'a>(&'a self, iov: &mut [IoSlice<'a>; MAX_IOV]) -> usize {
        let mut k = 0;
        for (i, c) in self.list.iter().take(MAX_IOV).enumerate() {
            let c = if i == 0 { &c[self.front..] } else { &c[..] };
            if !c.is_empty() {
                iov[k] = IoSlice::new(c);
                k += 1;
            }
        }
        k
    }

    /// Writes everything to a stream that encrypts (TLS), then flushes it;
    /// `wrote` is told each amount written.
    pub async fn write_all_to<W: tokio::io::AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        mut wrote: impl FnMut(usize),
    ) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        while !self.is_empty() {
            let n = {
                let mut iov = [IoSlice::new(&[]); MAX_IOV];
                let k = self.io_slices(&mut iov);
                w.write_vectored(&iov[..k]).await?
            };
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.consume(n);
            wrote(n);
        }
        w.flush().await
    }

    /// One vectored write of what the socket takes now.
    fn try_write(&mut self, sock: &TcpStream) -> io::Result<usize> {
        let mut iov = [IoSlice::new(&[]); MAX_IOV];
        let k = self.io_slices(&mut iov);
        let n = sock.try_write_vectored(&iov[..k])?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.consume(n);
        Ok(n)
    }

    /// Writes everything, waiting for the socket as needed; `wrote` is told
    /// each amount written.
    pub async fn write_all(
        &mut self,
        sock: &TcpStream,
        mut wrote: impl FnMut(usize),
    ) -> io::Result<()> {
        while !self.is_empty() {
            match self.try_write(sock) {
                Ok(n) => wrote(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => sock.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Bytes waiting to be written, and how the connection is to end.
pub(crate) struct Outbound {
    pub queued: Chunks,
    /// Queued and not yet written (includes bytes being written).
    pub pending: i64,
    /// Set once the reader has this client on its flush list.
    pub signaled: bool,
    /// The writer has taken chunks and is writing them.
    pub writing: bool,
    pub close: Option<ClosedState>,
    pub skip_flush: bool,
    /// The socket while the writer runs, for direct writes.
    pub sock: Option<Arc<OwnedWriteHalf>>,
    /// Woken on every write, for publishers waiting on the backlog.
    drained: Option<Arc<Notify>>,
    /// The writer has written its last bytes and closed the socket.
    pub finished: bool,
}

impl Outbound {
    pub fn new() -> Self {
        Self {
            queued: Chunks::default(),
            pending: 0,
            signaled: false,
            writing: false,
            close: None,
            skip_flush: false,
            sock: None,
            drained: None,
            finished: false,
        }
    }

    /// Accounts for `n` bytes written and wakes waiting publishers.
    pub fn wrote(&mut self, n: usize) {
        self.pending -= n as i64;
        if let Some(d) = &self.drained {
            d.notify_waiters();
        }
    }

    /// Wakes waiting publishers (the connection is going away).
    pub fn release(&mut self) {
        if let Some(d) = &self.drained {
            d.notify_waiters();
        }
    }

    /// Writes what the socket takes now, unless the writer is busy with this
    /// connection, it is closing, or the backlog is large. Errors are left
    /// for the writer to find.
    fn write_now(&mut self) {
        if self.writing || self.close.is_some() || self.queued.len() > MAX_DIRECT {
            return;
        }
        let Some(half) = &self.sock else {
            return;
        };
        let half: &OwnedWriteHalf = half;
        let sock: &TcpStream = half.as_ref();
        let mut written = 0;
        while !self.queued.is_empty() {
            match self.queued.try_write(sock) {
                Ok(n) => written += n,
                Err(_) => break,
            }
        }
        if written > 0 {
            self.wrote(written);
        }
    }
}

/// Go's stall length for a backlog of `pending` bytes past half of `max`.
fn stall_duration(pending: i64, max: i64) -> Duration {
    if pending >= max {
        return STALL_MAX;
    }
    let half = max / 2;
    let step = (half / 10).max(1);
    let extra = u32::try_from(((pending - half) / step).max(0)).unwrap_or(u32::MAX);
    STALL_MIN.saturating_mul(extra.saturating_add(1))
}

impl Connection {
    /// A publisher's reader, at the end of its read batch, for a connection
    /// it delivered to: writes what can be written at once and wakes the
    /// writer for the rest.
    /// Returns whether the backlog left is large enough for the publisher
    /// to wait on ([`Client::wait_backlog`]). `direct`: whether to write
    /// at all, or only wake the writer.
    pub(crate) fn flush_delivered(&self, direct: bool) -> bool {
        let (more, backlog) = {
            let mut out = self.out.lock();
            out.signaled = false;
            if direct {
                out.write_now();
            }
            (!out.queued.is_empty(), out.pending > self.max_pending / 2)
        };
        if more {
            self.write_ready.notify_one();
        }
        backlog
    }

    /// Go's flow control for a publisher (`producer`) that filled this
    /// connection's backlog past half of max_pending: waits until the writer
    /// brings it back under, for at most Go's stall time.
    pub async fn wait_backlog(&self, producer: &Connection) {
        let half = self.max_pending / 2;
        let over = |c: &Connection| {
            let out = c.out.lock();
            out.close.is_none() && out.pending > half
        };
        let (notify, ttl) = {
            let mut out = self.out.lock();
            if out.close.is_some() || out.pending <= half || producer.is_closed() {
                return;
            }
            let ttl = stall_duration(out.pending, self.max_pending);
            let notify = out
                .drained
                .get_or_insert_with(|| Arc::new(Notify::new()))
                .clone();
            (notify, ttl)
        };
        let deadline = Instant::now() + ttl;
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // A write between the check and enable() is not missed.
            if !over(self) || producer.is_closed() {
                return;
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(wait, notified).await.is_err() {
                crate::debug!(
                    "{} - Timed out of fast producer stall ({})",
                    producer.label(),
                    go_duration(ttl)
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(c: &Chunks) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, chunk) in c.list.iter().enumerate() {
            out.extend_from_slice(if i == 0 { &chunk[c.front..] } else { chunk });
        }
        out
    }

    #[test]
    fn chunks_grow_with_the_backlog_and_keep_order() {
        let mut c = Chunks::default();
        let mut want = Vec::new();
        for i in 0..5000u32 {
            let line = format!("MSG foo {i} 5\r\nhello\r\n");
            c.push(line.as_bytes());
            want.extend_from_slice(line.as_bytes());
        }
        assert_eq!(c.len(), want.len());
        assert_eq!(contents(&c), want);
        assert!(c.list[0].capacity() == MIN_CHUNK);
        assert!(c.list.iter().all(|x| x.capacity() <= MAX_CHUNK));
        assert!(c.count() < 10, "{} chunks", c.count());
        // Written in pieces that end inside and across chunks.
        let mut at = 0;
        for n in [1, 510, 3000, 70000] {
            c.consume(n);
            at += n;
            assert_eq!(contents(&c), want[at..]);
            assert_eq!(c.len(), want.len() - at);
        }
        c.consume(c.len());
        assert!(c.is_empty());
        assert_eq!(c.count(), 0);
    }

    #[test]
    fn parts_pushed_together_stay_in_order() {
        let mut c = Chunks::default();
        let mut want = Vec::new();
        for i in 0..3000u32 {
            let head = format!("MSG foo {i} 5\r\n");
            let parts: [&[u8]; 3] = [head.as_bytes(), b"hello", b"\r\n"];
            let len = parts.iter().map(|p| p.len()).sum();
            c.push_all(&parts, len);
            for p in parts {
                want.extend_from_slice(p);
            }
        }
        assert_eq!(c.len(), want.len());
        assert_eq!(contents(&c), want);
        assert!(c.list.iter().all(|x| x.capacity() <= MAX_CHUNK));
    }

    #[test]
    fn stall_lengths_follow_go() {
        let max = 64 << 20;
        assert_eq!(stall_duration(max / 2 + 1, max), STALL_MIN);
        // One more step of the minimum per tenth of the upper half.
        assert_eq!(stall_duration(max / 2 + 3 * (max / 20), max), STALL_MIN * 4);
        assert_eq!(stall_duration(max, max), STALL_MAX);
        assert_eq!(stall_duration(2 * max, max), STALL_MAX);
    }

    #[test]
    fn a_large_message_spans_chunks() {
        let mut c = Chunks::default();
        let big = vec![7u8; 3 * MAX_CHUNK + 5];
        c.push(b"MSG big 1 196613\r\n");
        c.push(&big);
        c.push(b"\r\n");
        assert_eq!(c.len(), 18 + big.len() + 2);
        assert!(c.list.iter().all(|x| x.capacity() <= MAX_CHUNK));
        let all = contents(&c);
        assert_eq!(&all[18..18 + big.len()], &big[..]);
    }

    #[tokio::test]
    async fn writes_in_order_over_a_socket() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut c = Chunks::default();
        let mut want = Vec::new();
        for i in 0..200_000u32 {
            let line = format!("{i}\r\n");
            c.push(line.as_bytes());
            want.extend_from_slice(line.as_bytes());
        }
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; want.len()];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(got, want);
        });
        let total = c.len();
        let mut wrote = 0;
        c.write_all(&client, |n| wrote += n).await.unwrap();
        assert!(c.is_empty());
        assert_eq!(wrote, total);
        reader.await.unwrap();
    }
}
