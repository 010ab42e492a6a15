//! Plain publish and subscribe over a raw connection, and how scenarios
//! show the messages that were delivered.

use super::{Ctx, Msg, RawClient, Server};
use anyhow::{Context, Result};

/// The CONNECT of user `name` with password `pass`, asking for no +OK.
pub fn user(name: &str, pass: &str) -> String {
    format!("{{\"verbose\":false,\"user\":\"{name}\",\"pass\":\"{pass}\"}}")
}

/// A connection of user `name` (password `pass`) that got the PONG of a PING.
pub async fn login(ctx: &Ctx, s: &Server, name: &str, pass: &str) -> Result<RawClient> {
    ctx.raw_connected(s, &user(name, pass))
        .await
        .with_context(|| format!("connecting as {name}"))
}

/// Subscribes `subject` with `sid` for each pair, confirmed by a PONG.
pub async fn subscribe(c: &mut RawClient, subs: &[(&str, &str)]) -> Result<()> {
    let mut p = String::new();
    for (subject, sid) in subs {
        p.push_str(&format!("SUB {subject} {sid}\r\n"));
    }
    c.send(&p).await?;
    c.flush().await
}

/// Publishes `payload` on `subject`, with a reply subject when given; does
/// not wait for the server.
pub async fn publish(
    c: &mut RawClient,
    subject: &str,
    reply: Option<&str>,
    payload: &str,
) -> Result<()> {
    let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
    c.send(&format!(
        "PUB {subject}{reply} {}\r\n{payload}\r\n",
        payload.len()
    ))
    .await
}

/// A message as `subject sid payload`.
pub fn show(m: &Msg) -> String {
    format!(
        "{} {} {}",
        m.subject,
        m.sid,
        String::from_utf8_lossy(&m.payload)
    )
}

/// The messages delivered until the PONG of a PING, in order, each as
/// [`show`] writes it.
pub async fn delivered(c: &mut RawClient) -> Result<Vec<String>> {
    Ok(c.msgs_until_pong().await?.iter().map(show).collect())
}
