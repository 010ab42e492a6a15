//! Encoding deliveries: the `MSG`/`HMSG` line that goes before a payload.

/// The sizes a delivery line ends with.
#[derive(Debug, Clone, Copy)]
pub enum Sizes<'a> {
    /// `MSG`: the payload size exactly as the publisher wrote it.
    Msg(&'a [u8]),
    /// `MSG` for a payload whose headers were removed (a subscriber that
    /// does not support headers): the size of what is left.
    Stripped(usize),
    /// `HMSG`: header size and total size, as the publisher wrote them.
    HMsg { hdr: &'a [u8], total: &'a [u8] },
}

/// Appends `MSG <subject> [sid] [reply] <size>\r\n` (or the `HMSG` form
/// with both sizes) to `out`. An empty `sid` is left out, as for the
/// server's own subscriptions.
pub fn msg_line(out: &mut Vec<u8>, subject: &[u8], sid: &[u8], reply: Option<&[u8]>, sizes: Sizes) {
    let hmsg = matches!(sizes, Sizes::HMsg { .. });
    out.extend_from_slice(if hmsg { b"HMSG " } else { b"MSG " });
    out.extend_from_slice(subject);
    out.push(b' ');
    if !sid.is_empty() {
        out.extend_from_slice(sid);
        out.push(b' ');
    }
    if let Some(reply) = reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    match sizes {
        Sizes::Msg(size) => out.extend_from_slice(size),
        Sizes::Stripped(n) => push_decimal(out, n),
        Sizes::HMsg { hdr, total } => {
            out.extend_from_slice(hdr);
            out.push(b' ');
            out.extend_from_slice(total);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(subject: &str, sid: &str, reply: Option<&str>, sizes: Sizes) -> String {
        let mut out = Vec::new();
        msg_line(
            &mut out,
            subject.as_bytes(),
            sid.as_bytes(),
            reply.map(str::as_bytes),
            sizes,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn msg_and_hmsg_lines() {
        assert_eq!(line("foo", "1", None, Sizes::Msg(b"5")), "MSG foo 1 5\r\n");
        assert_eq!(
            line("foo", "22", Some("_INBOX.x"), Sizes::Msg(b"05")),
            "MSG foo 22 _INBOX.x 05\r\n"
        );
        assert_eq!(
            line(
                "foo",
                "1",
                Some("r"),
                Sizes::HMsg {
                    hdr: b"12",
                    total: b"14"
                }
            ),
            "HMSG foo 1 r 12 14\r\n"
        );
        assert_eq!(line("foo", "", None, Sizes::Stripped(0)), "MSG foo 0\r\n");
        assert_eq!(
            line("a.b", "9", None, Sizes::Stripped(1234567)),
            "MSG a.b 9 1234567\r\n"
        );
        assert_eq!(
            line("a", "9", None, Sizes::Stripped(usize::MAX)),
            format!("MSG a 9 {}\r\n", usize::MAX)
        );
    }
}
