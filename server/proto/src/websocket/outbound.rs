//! How the server frames the bytes it sends to a WebSocket client, as Go
//! 2.9.10 does: what is queued goes out as one binary message, deflated
//! when compression was agreed and there are more than 64 bytes. Browsers
//! get frames of 4 KiB at most; a compressed message is then split into
//! continuation frames, except for Safari, which cannot take them.

use super::frame::{put_header, OP_BINARY};
use flate2::{Compress, Compression, FlushCompress};

/// Largest frame sent to a browser (`User-Agent: Mozilla/...`).
pub const BROWSER_FRAME_SIZE: usize = 4096;
/// Batches of this many bytes or fewer are sent uncompressed.
pub const COMPRESS_THRESHOLD: usize = 64;

/// A buffer grown past this by a burst is let go after it.
pub const KEEP_CAPACITY: usize = 1 << 20;

/// The framing agreed with one client at the upgrade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameRules {
    /// permessage-deflate was agreed.
    pub compress: bool,
    /// The client is a browser: frames of 4 KiB at most.
    pub browser: bool,
    /// Compressed messages must not be fragmented (Safari).
    pub no_compressed_fragments: bool,
}

/// Frames one client's outbound bytes.
pub struct Framer {
    rules: FrameRules,
    deflater: Option<Compress>,
    deflated: Vec<u8>,
}

impl Framer {
    pub fn new(rules: FrameRules) -> Self {
        Self {
            rules,
            deflater: None,
            deflated: Vec::new(),
        }
    }

    /// Messages are deflated (when worth it).
    pub fn compresses(&self) -> bool {
        self.rules.compress
    }

    /// Appends to `out` the frame header(s) for `parts` (queued bytes, in
    /// order) and returns what follows the last header on the wire: the
    /// parts themselves for a plain frame, the deflated message for a
    /// compressed one, so that the caller writes them without a copy.
    /// Frames cut for a browser are built whole in `out`; nothing follows.
    pub fn frame_vectored<'a>(
        &'a mut self,
        parts: &[&'a [u8]],
        out: &mut Vec<u8>,
    ) -> Vec<&'a [u8]> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total == 0 {
            return Vec::new();
        }
        let max_frame = self.rules.browser.then_some(BROWSER_FRAME_SIZE);
        if self.rules.compress && total > COMPRESS_THRESHOLD {
            self.deflate(parts);
            let max_frame = max_frame.filter(|_| !self.rules.no_compressed_fragments);
            let data = &self.deflated;
            return match max_frame {
                Some(max) if data.len() > max => {
                    let count = data.len().div_ceil(max);
                    for (i, piece) in data.chunks(max).enumerate() {
                        let first = i == 0;
                        put_header(out, OP_BINARY, first, i + 1 == count, first, piece.len());
                        out.extend_from_slice(piece);
                    }
                    Vec::new()
                }
                _ => {
                    put_header(out, OP_BINARY, true, true, true, data.len());
                    vec![&data[..]]
                }
            };
        }
        let Some(max) = max_frame else {
            put_header(out, OP_BINARY, true, true, false, total);
            return parts.to_vec();
        };
        let mut framed = 0;
        let mut frame_left = 0;
        for mut p in parts.iter().copied() {
            while !p.is_empty() {
                if frame_left == 0 {
                    frame_left = max.min(total - framed);
                    put_header(out, OP_BINARY, true, true, false, frame_left);
                }
                let n = frame_left.min(p.len());
                out.extend_from_slice(&p[..n]);
                p = &p[n..];
                frame_left -= n;
                framed += n;
            }
        }
        Vec::new()
    }

    /// Appends to `out` the whole frames that carry `parts`.
    pub fn frame(&mut self, parts: &[&[u8]], out: &mut Vec<u8>) {
        for body in self.frame_vectored(parts, out) {
            out.extend_from_slice(body);
        }
    }

    /// Deflates `parts` into `self.deflated` as one message, without
    /// context from earlier messages, ending with a sync flush whose
    /// trailing empty block is left out (RFC 7692 section 7.2.1).
    fn deflate(&mut self, parts: &[&[u8]]) {
        let d = self
            .deflater
            .get_or_insert_with(|| Compress::new(Compression::fast(), false));
        d.reset();
        if self.deflated.capacity() > KEEP_CAPACITY {
            self.deflated = Vec::new();
        }
        self.deflated.clear();
        for p in parts {
            deflate_into(d, p, &mut self.deflated, FlushCompress::None);
        }
        deflate_into(d, &[], &mut self.deflated, FlushCompress::Sync);
        let keep = self.deflated.len().saturating_sub(4);
        self.deflated.truncate(keep);
    }
}

/// Feeds all of `input` to `d`, growing `out` as needed; with a flush,
/// until everything is out.
fn deflate_into(d: &mut Compress, mut input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) {
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve((input.len() / 2).max(4096));
        }
        let before = d.total_in();
        d.compress_vec(input, out, flush)
            .expect("deflating into memory cannot fail");
        input = &input[(d.total_in() - before) as usize..];
        if input.is_empty() && out.len() < out.capacity() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (first byte, payload length) of each frame in `out`.
    fn frames(out: &[u8]) -> Vec<(u8, usize)> {
        let mut at = 0;
        let mut list = Vec::new();
        while at < out.len() {
            let (len, header) = match out[at + 1] {
                126 => (u16::from_be_bytes([out[at + 2], out[at + 3]]) as usize, 4),
                127 => (
                    u64::from_be_bytes(out[at + 2..at + 10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (n as usize, 2),
            };
            list.push((out[at], len));
            at += header + len;
        }
        list
    }

    #[test]
    fn plain_batches_are_one_binary_frame() {
        let mut out = Vec::new();
        Framer::new(FrameRules::default()).frame(&[b"PING\r\n", &[b'x'; 70000]], &mut out);
        assert_eq!(frames(&out), [(0x82, 70006)]);
    }

    #[test]
    fn browsers_get_frames_of_4k_at_most() {
        let mut out = Vec::new();
        let rules = FrameRules {
            browser: true,
            ..Default::default()
        };
        Framer::new(rules).frame(&[&[b'x'; 5000], &[b'y'; 4000]], &mut out);
        assert_eq!(frames(&out), [(0x82, 4096), (0x82, 4096), (0x82, 808)]);
    }

    #[test]
    fn small_batches_are_not_compressed() {
        let mut out = Vec::new();
        let rules = FrameRules {
            compress: true,
            ..Default::default()
        };
        Framer::new(rules).frame(&[&[b'x'; 64]], &mut out);
        assert_eq!(frames(&out), [(0x82, 64)]);
        out.clear();
        Framer::new(rules).frame(&[&[b'x'; 65]], &mut out);
        assert_eq!(frames(&out)[0].0, 0xc2);
    }

    #[test]
    fn compressed_browser_messages_fragment_except_for_safari() {
        // Incompressible bytes, so the deflated message stays over 4 KiB.
        let mut seed = 1u32;
        let noise: Vec<u8> = (0..20000)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect();
        let mut rules = FrameRules {
            compress: true,
            browser: true,
            no_compressed_fragments: false,
        };
        let mut out = Vec::new();
        Framer::new(rules).frame(&[&noise], &mut out);
        let f = frames(&out);
        assert!(f.len() > 1);
        assert_eq!(f[0].0, 0x42, "first: compressed, binary, not final");
        assert!(f[1..f.len() - 1]
            .iter()
            .all(|(b, n)| *b == 0x00 && *n == 4096));
        assert_eq!(f.last().unwrap().0, 0x80);
        rules.no_compressed_fragments = true;
        out.clear();
        Framer::new(rules).frame(&[&noise], &mut out);
        assert_eq!(frames(&out).len(), 1);
    }
}
