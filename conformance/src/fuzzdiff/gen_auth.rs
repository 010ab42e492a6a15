//! Authentication against the users of [`super::servers::AUTH_CONF`]: right
//! and wrong passwords, key case variants, duplicate keys (the last one wins
//! in Go), and a second CONNECT that switches user. Each case ends with
//! SUBs and PUBs on subjects only some users may use, so that who the
//! server thinks the client is shows in the answer.

use super::gen_connect::random_case;
use crate::rng::Rng;

const USERS: &[(&str, &str)] = &[
    ("alice", "alicepw"),
    ("admin", "adminpw"),
    ("guest", "guestpw"),
];

/// Subscribes to and publishes on each user's subjects, then PINGs.
const PROBE: &[u8] = b"SUB alice.~.> 1\r\nSUB guest.~.> 2\r\nSUB _INBOX.~.> 3\r\n\
PUB alice.~.x 1\r\na\r\nPUB guest.~.x 1\r\ng\r\nPUB _INBOX.~.x 1\r\ni\r\nPUB admin.~.x 1\r\nz\r\nPING\r\n";

fn user(rng: &mut Rng) -> (&'static str, &'static str) {
    *rng.pick(USERS)
}

/// A password: the right one, another user's, or a wrong one.
fn password(rng: &mut Rng, right: &'static str) -> String {
    match rng.range(0, 5) {
        0 | 1 => right.to_string(),
        2 => user(rng).1.to_string(),
        3 => right.to_uppercase(),
        4 => String::new(),
        _ => format!("{right} "),
    }
}

fn connect_line(pairs: &[String]) -> Vec<u8> {
    format!("CONNECT {{\"verbose\":false,{}}}\r\n", pairs.join(",")).into_bytes()
}

fn creds(u: &str, p: &str) -> Vec<String> {
    vec![format!("\"user\":\"{u}\""), format!("\"pass\":\"{p}\"")]
}

/// One CONNECT with a right or wrong password, or a missing field.
pub fn password_check(rng: &mut Rng) -> Vec<Vec<u8>> {
    let (u, right) = user(rng);
    let pairs = match rng.range(0, 6) {
        0 => vec![format!("\"user\":\"{u}\"")],
        1 => vec![format!("\"pass\":\"{right}\"")],
        2 => vec![format!("\"user\":null"), format!("\"pass\":\"{right}\"")],
        _ => creds(u, &password(rng, right)),
    };
    vec![[connect_line(&pairs), PROBE.to_vec()].concat()]
}

/// Right credentials under keys spelled in another case (`"USER"`, `"Pass"`).
pub fn key_case(rng: &mut Rng) -> Vec<Vec<u8>> {
    let (u, p) = user(rng);
    let pairs = vec![
        format!("\"{}\":\"{u}\"", random_case(rng, "user")),
        format!("\"{}\":\"{p}\"", random_case(rng, "pass")),
    ];
    vec![[connect_line(&pairs), PROBE.to_vec()].concat()]
}

/// `user` and `pass` given twice with different users.
pub fn dup_key(rng: &mut Rng) -> Vec<Vec<u8>> {
    let (u1, p1) = user(rng);
    let (u2, p2) = user(rng);
    let pairs = match rng.range(0, 2) {
        0 => vec![
            format!("\"user\":\"{u1}\""),
            format!("\"pass\":\"{p1}\""),
            format!("\"user\":\"{u2}\""),
            format!("\"pass\":\"{p2}\""),
        ],
        1 => vec![
            format!("\"user\":\"{u1}\""),
            format!("\"user\":\"{u2}\""),
            format!("\"pass\":\"{p2}\""),
        ],
        _ => vec![
            format!("\"user\":\"{u2}\""),
            format!("\"pass\":\"{p1}\""),
            format!("\"pass\":\"{p2}\""),
        ],
    };
    vec![[connect_line(&pairs), PROBE.to_vec()].concat()]
}

/// A valid CONNECT, then a second one as another user (valid or not, or
/// naming only the user: Go decodes the second CONNECT over the first).
pub fn switch_user(rng: &mut Rng) -> Vec<Vec<u8>> {
    let (u1, p1) = user(rng);
    let (u2, p2) = user(rng);
    let second = match rng.range(0, 3) {
        0 => vec![format!("\"user\":\"{u2}\"")],
        1 => creds(u2, "wrong"),
        _ => creds(u2, p2),
    };
    let mid: &[u8] = if rng.chance(1, 2) {
        b"SUB alice.~.> 9\r\nPING\r\n"
    } else {
        b""
    };
    vec![[
        connect_line(&creds(u1, p1)),
        mid.to_vec(),
        connect_line(&second),
        PROBE.to_vec(),
    ]
    .concat()]
}

/// Operations before any CONNECT, where the server requires one.
pub fn before_connect(rng: &mut Rng) -> Vec<Vec<u8>> {
    let first = *rng.pick(&[
        "PING\r\n",
        "SUB alice.~.> 1\r\n",
        "PUB alice.~.x 1\r\na\r\n",
        "PONG\r\n",
        "connect {\"user\":\"admin\",\"pass\":\"adminpw\"}\r\n",
        "CONNECT\r\n",
    ]);
    vec![[first.as_bytes(), PROBE].concat()]
}
