//! Pull requests: `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with an
//! empty body (one message), a bare number (a batch), or JSON (`batch`,
//! `expires`, `max_bytes`, `no_wait`, `idle_heartbeat`); and the queue of
//! requests waiting for messages, served round robin as Go serves them.

use natsd_proto::jetstream::consumer::NextRequest;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A parsed pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub batch: i64,
    pub expires: Option<Duration>,
    pub max_bytes: i64,
    pub no_wait: bool,
    pub heartbeat: Duration,
}

/// Go's nextReqFromMsg; the error is the text after `400 Bad Request - `.
pub fn parse(body: &[u8]) -> Result<Parsed, String> {
    let req = body.trim_ascii();
    let one = Parsed {
        batch: 1,
        expires: None,
        max_bytes: 0,
        no_wait: false,
        heartbeat: Duration::ZERO,
    };
    if req.is_empty() {
        return Ok(one);
    }
    if req[0] == b'{' {
        natsd_proto::gojson::check_valid(req).map_err(|e| e.to_string())?;
        let r: NextRequest = serde_json::from_slice(req).map_err(|e| e.to_string())?;
        if r.heartbeat > 0 && r.heartbeat.saturating_mul(2) > r.expires {
            return Err("heartbeat value too large".to_string());
        }
        let nanos = |n: i64| Duration::from_nanos(n.max(0) as u64);
        return Ok(Parsed {
            batch: r.batch,
            expires: (r.expires != 0).then(|| nanos(r.expires)),
            max_bytes: r.max_bytes,
            no_wait: r.no_wait,
            heartbeat: nanos(r.heartbeat),
        });
    }
    match std::str::from_utf8(req)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        Some(n) => Ok(Parsed { batch: n, ..one }),
        None => Ok(one),
    }
}

/// A pull request waiting for messages.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub reply: String,
    /// Messages still to send.
    pub n: i64,
    /// Messages sent.
    pub d: i64,
    /// Bytes still allowed (0: no limit).
    pub b: i64,
    pub expires: Option<Instant>,
    pub received: Instant,
    pub heartbeat: Duration,
    pub next_heartbeat: Option<Instant>,
    pub no_wait: bool,
    /// When the requester's interest was last seen.
    pub interest_seen: Option<Instant>,
}

/// The waiting requests, at most `max`, and when the last one came.
#[derive(Debug)]
pub struct WaitQueue {
    pub reqs: VecDeque<Waiting>,
    pub max: usize,
    pub last: Instant,
}

impl WaitQueue {
    pub fn new(max: i64) -> Self {
        Self {
            reqs: VecDeque::new(),
            max: max.max(0) as usize,
            last: Instant::now(),
        }
    }

    pub fn is_full(&self) -> bool {
        self.reqs.len() >= self.max
    }

    pub fn len(&self) -> usize {
        self.reqs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Adds a request; false when the queue is full.
    pub fn add(&mut self, w: Waiting) -> bool {
        if self.is_full() {
            return false;
        }
        self.last = w.received;
        self.reqs.push_back(w);
        true
    }

    /// Takes one message for the head request: it moves to the back while
    /// it wants more, and leaves when it is done. Returns its reply
    /// subject and whether it is done.
    pub fn pop(&mut self) -> Option<(String, bool)> {
        let mut w = self.reqs.pop_front()?;
        w.d += 1;
        w.n -= 1;
        let reply = w.reply.clone();
        if w.n > 0 {
            if let Some(hb) = w.next_heartbeat.as_mut() {
                *hb = Instant::now() + w.heartbeat;
            }
            self.reqs.push_back(w);
            Some((reply, false))
        } else {
            Some((reply, true))
        }
    }
}

/// A status with Go's pending headers: `NATS/1.0 <code> <text>` then
/// `Nats-Pending-Messages` and `Nats-Pending-Bytes`.
pub fn pending_status(code: u16, text: &str, msgs: i64, bytes: i64) -> Vec<u8> {
    format!(
        "NATS/1.0 {code} {text}\r\nNats-Pending-Messages: {msgs}\r\nNats-Pending-Bytes: {bytes}\r\n\r\n"
    )
    .into_bytes()
}

/// A bare status: `NATS/1.0 <code> <text>`.
pub fn status(code: u16, text: &str) -> Vec<u8> {
    format!("NATS/1.0 {code} {text}\r\n\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(parse(b"").unwrap().batch, 1);
        assert_eq!(parse(b" 10 ").unwrap().batch, 10);
        assert_eq!(parse(b"x").unwrap().batch, 1);
        let p = parse(br#"{"batch":5,"expires":5000000000,"no_wait":true}"#).unwrap();
        assert_eq!(
            (p.batch, p.expires, p.no_wait),
            (5, Some(Duration::from_secs(5)), true)
        );
        assert_eq!(
            parse(br#"{"batch":1,"expires":1000,"idle_heartbeat":1000}"#).unwrap_err(),
            "heartbeat value too large"
        );
    }

    #[test]
    fn serves_round_robin() {
        let mut q = WaitQueue::new(2);
        let w = |r: &str, n| Waiting {
            reply: r.into(),
            n,
            d: 0,
            b: 0,
            expires: None,
            received: Instant::now(),
            heartbeat: Duration::ZERO,
            next_heartbeat: None,
            no_wait: false,
            interest_seen: None,
        };
        assert!(q.add(w("a", 2)));
        assert!(q.add(w("b", 1)));
        assert!(!q.add(w("c", 1)));
        assert_eq!(q.pop(), Some(("a".into(), false)));
        assert_eq!(q.pop(), Some(("b".into(), true)));
        assert_eq!(q.pop(), Some(("a".into(), true)));
        assert!(q.is_empty());
    }
}
