//! What a server sent on one connection, reduced to what must be the same
//! for natsd and Go: INFO lines lose their content (ids, ports, nonces and
//! client ids differ by nature), everything else (+OK, PING, PONG, -ERR,
//! MSG and HMSG with their payloads, any other line) is kept verbatim, and
//! whether the server closed the connection is recorded. The one thing
//! reordered: one message delivered to several subscriptions of the
//! connection comes in no promised order (Go's own order varies from run
//! to run), so such a run of deliveries is sorted.

use super::escape::escape;

/// A normalized answer: one entry per server operation, and the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub lines: Vec<String>,
    pub closed: bool,
}

impl Answer {
    /// The text compared between servers and shown in the report.
    pub fn render(&self) -> String {
        let mut out = self.lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(if self.closed { "[closed]" } else { "[open]" });
        out
    }
}

/// One server operation: its lines, and for a delivery the subject and
/// payload that tell copies of one message apart from other messages.
struct Item {
    lines: Vec<String>,
    message: Option<(Vec<u8>, Vec<u8>)>,
}

/// Normalizes the bytes a server sent after its first INFO.
pub fn normalize(bytes: &[u8], closed: bool) -> Answer {
    let mut items = parse(bytes);
    sort_copies(&mut items);
    Answer {
        lines: items.into_iter().flat_map(|i| i.lines).collect(),
        closed,
    }
}

fn parse(bytes: &[u8]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut rest = bytes;
    let plain = |line: String| Item {
        lines: vec![line],
        message: None,
    };
    while !rest.is_empty() {
        let Some(end) = find_crlf(rest) else {
            items.push(plain(format!("partial {}", escape(rest))));
            break;
        };
        let line = &rest[..end];
        rest = &rest[end + 2..];
        if line == b"INFO" || line.starts_with(b"INFO ") {
            items.push(plain("INFO".into()));
            continue;
        }
        let Some(size) = payload_size(line) else {
            items.push(plain(escape(line)));
            continue;
        };
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            items.push(plain(escape(line)));
            items.push(plain(format!("partial payload {}", escape(rest))));
            break;
        }
        let payload = &rest[..size];
        let subject = line.split(|b| *b == b' ').nth(1).unwrap_or_default();
        items.push(Item {
            lines: vec![escape(line), format!("payload {}", escape(payload))],
            message: Some((subject.to_vec(), payload.to_vec())),
        });
        rest = &rest[size + 2..];
    }
    items
}

/// Sorts each run of consecutive deliveries of the same subject and payload.
fn sort_copies(items: &mut [Item]) {
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        if items[start].message.is_some() {
            while end < items.len() && items[end].message == items[start].message {
                end += 1;
            }
            items[start..end].sort_by(|a, b| a.lines.cmp(&b.lines));
        }
        start = end;
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// The size of the payload (headers included) that follows a MSG or HMSG
/// line: its last argument.
fn payload_size(line: &[u8]) -> Option<usize> {
    if !(line.starts_with(b"MSG ") || line.starts_with(b"HMSG ")) {
        return None;
    }
    let last = line.split(|b| *b == b' ').rfind(|t| !t.is_empty())?;
    std::str::from_utf8(last).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_content_is_dropped_and_the_rest_kept() {
        let a = normalize(
            b"INFO {\"server_id\":\"X\",\"port\":1}\r\n+OK\r\n-ERR 'Unknown Protocol Operation'\r\nPONG\r\n",
            true,
        );
        assert_eq!(
            a.render(),
            "INFO\n+OK\n-ERR 'Unknown Protocol Operation'\nPONG\n[closed]"
        );
    }

    #[test]
    fn payloads_are_kept_even_when_they_contain_line_ends() {
        let a = normalize(
            b"MSG foo 1 4\r\na\r\nb\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n",
            false,
        );
        assert_eq!(
            a.lines,
            vec![
                "MSG foo 1 4",
                "payload a\\r\\nb",
                "HMSG foo 1 12 14",
                "payload NATS/1.0\\r\\n\\r\\nhi",
                "PING"
            ]
        );
        assert!(a.render().ends_with("[open]"));
    }

    #[test]
    fn copies_of_one_message_are_sorted_and_nothing_else_is() {
        let one = normalize(
            b"MSG a 9 1\r\nx\r\nMSG a 1 1\r\nx\r\nMSG a 5 1\r\ny\r\n",
            false,
        );
        let other = normalize(
            b"MSG a 1 1\r\nx\r\nMSG a 9 1\r\nx\r\nMSG a 5 1\r\ny\r\n",
            false,
        );
        assert_eq!(one, other);
        assert_eq!(one.lines[0], "MSG a 1 1");
        let swapped = normalize(
            b"MSG a 5 1\r\ny\r\nMSG a 1 1\r\nx\r\nMSG a 9 1\r\nx\r\n",
            false,
        );
        assert_ne!(one, swapped, "different messages keep their order");
    }

    #[test]
    fn a_cut_tail_is_shown_as_partial() {
        assert_eq!(
            normalize(b"PONG\r\nPO", true).lines,
            vec!["PONG", "partial PO"]
        );
        assert_eq!(
            normalize(b"MSG foo 1 5\r\nab", true).lines,
            vec!["MSG foo 1 5", "partial payload ab"]
        );
    }

    #[test]
    fn nothing_sent_is_just_the_end() {
        assert_eq!(normalize(b"", false).render(), "[open]");
    }
}
