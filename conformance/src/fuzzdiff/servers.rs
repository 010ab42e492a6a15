//! The three servers a protocol case runs on: natsd, Go "A" (the reference)
//! and Go "B" (the noise control: where two runs of the same Go server
//! answer differently, the answer depends on timing, not on the server).
//! Started through the kit, on allocated ports, with the same config;
//! dropping a trio stops them.

use super::case::Set;
use crate::kit::{Binaries, Ctx, Server, ServerSpec, Target};
use anyhow::Result;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

/// The users of the auth set: alice and guest are confined to their own
/// subjects, admin may do anything.
pub const AUTH_CONF: &str = r#"authorization { users = [
  {user: alice, password: alicepw, permissions: {publish: "alice.>", subscribe: ["alice.>", "_INBOX.>"]}},
  {user: admin, password: adminpw},
  {user: guest, password: guestpw, permissions: {publish: "guest.>", subscribe: "guest.>"}}
] }
"#;

/// Which of the three servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Natsd,
    GoA,
    GoB,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Natsd, Role::GoA, Role::GoB];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Natsd => "natsd",
            Role::GoA => "go-a",
            Role::GoB => "go-b",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// What a fresh connection of `set` sends before its PING, so that the
/// probe is let in.
pub fn probe_connect(set: Set) -> &'static str {
    match set {
        Set::Open => "CONNECT {\"verbose\":false}\r\n",
        Set::Auth => "CONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"adminpw\"}\r\n",
    }
}

/// natsd, Go A and Go B, running the config of one set.
pub struct Trio {
    // The contexts own the servers' temporary folders: kept for as long as
    // the servers run.
    _ctxs: [Ctx; 2],
    servers: [Server; 3],
}

impl Trio {
    pub async fn start(set: Set, bins: &Binaries) -> Result<Trio> {
        let spec = || match set {
            Set::Open => ServerSpec::new(),
            Set::Auth => ServerSpec::new().conf(AUTH_CONF),
        };
        let rust = Ctx::new(Target::Rust, bins)?;
        let go = Ctx::new(Target::Go, bins)?;
        let servers = [
            rust.server(spec()).await?,
            go.server(spec()).await?,
            go.server(spec()).await?,
        ];
        Ok(Trio {
            _ctxs: [rust, go],
            servers,
        })
    }

    pub fn addrs(&self) -> [String; 3] {
        Role::ALL.map(|r| self.servers[r.index()].addr())
    }

    /// If the server has exited, says how (exit status and the lines of its
    /// log that tell why) and starts it again on the same port.
    pub async fn reap(&mut self, role: Role) -> Result<Option<String>> {
        let server = &mut self.servers[role.index()];
        let Ok(status) = server.wait_exit(Duration::from_millis(20)).await else {
            return Ok(None);
        };
        let how = match status.signal() {
            Some(sig) => format!("killed by signal {sig}"),
            None => format!("exited with {}", status.code().unwrap_or(-1)),
        };
        let why = last_words(&server.logs());
        server.restart().await?;
        Ok(Some(format!("{how}: {why}")))
    }

    /// Kills and restarts a server that stopped answering.
    pub async fn restart(&mut self, role: Role) -> Result<()> {
        let server = &mut self.servers[role.index()];
        server.kill().await?;
        server.restart().await
    }
}

/// The lines of a dead server's log that say why: from a Rust panic or a Go
/// fatal error on, else the last lines.
pub fn last_words(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            l.contains("panicked at")
                || l.contains("overflowed its stack")
                || l.starts_with("fatal error")
                || l.starts_with("panic:")
        })
        .unwrap_or(lines.len().saturating_sub(3));
    let words: Vec<String> = lines[start..]
        .iter()
        .take(3)
        .map(|l| crate::normalize::text(l))
        .collect();
    words.join(" / ")
}

#[cfg(test)]
mod tests {
    use super::last_words;

    #[test]
    fn a_panic_is_found_in_the_log() {
        let log = "[1] [INF] Server is ready\nthread 'main' panicked at src/x.rs:1:2:\nboom\nnote: run with RUST_BACKTRACE\nmore";
        assert_eq!(
            last_words(log),
            "thread 'main' panicked at src/x.rs:1:2: / boom / note: run with RUST_BACKTRACE"
        );
        assert_eq!(last_words("a\nb"), "a / b");
    }
}
