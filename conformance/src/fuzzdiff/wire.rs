//! One case on one connection: connect, read and drop the INFO, send the
//! case's writes while reading whatever comes back, and stop when the server
//! closes or has been quiet for a while. Reading while writing matters: a
//! server that answers an error and closes must be heard before its reset.
//! Also the health probe that tells a hung server from a busy one.

use anyhow::{anyhow, bail, Context, Result};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};

/// How long a server may stay silent before its answer is taken as complete.
const QUIET: Duration = Duration::from_millis(300);
/// The longest an answer is read for.
const CAP: Duration = Duration::from_secs(3);
/// The pause between two writes of a case, so that they arrive apart.
const WRITE_GAP: Duration = Duration::from_millis(5);
/// How long the connection and the INFO may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a health probe may take to get its PONG.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The raw bytes a server sent after its INFO, and whether it closed.
#[derive(Debug, Clone)]
pub struct Heard {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

/// Connects and reads the first INFO line; returns the stream and any bytes
/// that came after it.
async fn open(addr: &str) -> Result<(TcpStream, Vec<u8>)> {
    let connect = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
                let rest = buf.split_off(end + 2);
                return Ok::<_, anyhow::Error>((stream, rest));
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("closed before its INFO");
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| anyhow!("no INFO within {CONNECT_TIMEOUT:?}"))?
        .with_context(|| format!("connecting to {addr}"))
}

/// Sends `chunks` as separate writes and collects the answer.
pub async fn exchange(addr: &str, chunks: &[Vec<u8>]) -> Result<Heard> {
    let (stream, mut bytes) = open(addr).await?;
    let (mut rd, mut wr) = stream.into_split();
    let start = Instant::now();
    let mut last = start;
    let mut next_write = start;
    let mut pending = chunks.iter();
    let mut to_send = pending.next();
    let mut chunk = [0u8; 16 * 1024];
    let mut closed = false;
    loop {
        tokio::select! {
            n = rd.read(&mut chunk) => match n {
                Ok(n) if n > 0 => {
                    bytes.extend_from_slice(&chunk[..n]);
                    last = Instant::now();
                }
                _ => {
                    closed = true;
                    break;
                }
            },
            _ = sleep_until(next_write), if to_send.is_some() => {
                let data = to_send.take().expect("guarded");
                // A server that closed may refuse the rest: what it sent
                // before is still read.
                to_send = match wr.write_all(data).await {
                    Ok(()) => pending.next(),
                    Err(_) => None,
                };
                last = Instant::now();
                next_write = last + WRITE_GAP;
            },
            _ = sleep_until(last + QUIET), if to_send.is_none() => break,
            _ = sleep_until(start + CAP) => break,
        }
    }
    // The write half lives until here: dropping it earlier would tell the
    // server the client is done.
    drop(wr);
    Ok(Heard { bytes, closed })
}

/// A fresh connection that sends `connect` (if any) and a PING must get a
/// PONG within [`PROBE_TIMEOUT`].
pub async fn probe(addr: &str, connect: &str) -> Result<()> {
    let check = async {
        let (mut stream, mut buf) = open(addr).await?;
        stream
            .write_all(format!("{connect}PING\r\n").as_bytes())
            .await?;
        let mut chunk = [0u8; 4096];
        while !buf.windows(6).any(|w| w == b"PONG\r\n") {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("closed without a PONG");
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    };
    timeout(PROBE_TIMEOUT, check)
        .await
        .map_err(|_| anyhow!("no PONG within {PROBE_TIMEOUT:?}"))?
}
