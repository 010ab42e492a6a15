//! Go's nats-server 2.9.10 reads a store the file store wrote: several
//! blocks, headers, removes, an erase, a skip and a subject purge. Go must
//! report the same stream state and return every message. Needs the Go
//! server (/usr/sbin/nats-server, or $NATS_SERVER_GO); without it the test
//! says so and passes.

use natsd_store::file::{FileStore, FileStoreConfig};
use natsd_store::{Limits, StreamStore};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn go_server() -> Option<PathBuf> {
    let path = std::env::var_os("NATS_SERVER_GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"));
    path.exists().then_some(path)
}

/// The Go server, stopped with SIGTERM when dropped.
struct GoServer(Child);

impl Drop for GoServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Just enough of the client protocol for requests.
struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
    n: u32,
}

impl Client {
    fn connect(port: u16) -> Client {
        let deadline = Instant::now() + Duration::from_secs(10);
        let w = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("Go server: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut c = Client {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
            n: 0,
        };
        c.line(); // INFO
        c.w.write_all(b"CONNECT {\"verbose\":false}\r\nSUB _INBOX.t.* 1\r\nPING\r\n")
            .unwrap();
        while c.line() != "PONG" {}
        c
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        assert!(!l.is_empty(), "Go server closed the connection");
        l.trim_end().to_string()
    }

    fn request(&mut self, subject: &str, body: Value) -> Value {
        self.n += 1;
        let inbox = format!("_INBOX.t.{}", self.n);
        let body = body.to_string();
        let op = format!("PUB {subject} {inbox} {}\r\n{body}\r\n", body.len());
        self.w.write_all(op.as_bytes()).unwrap();
        loop {
            let line = self.line();
            if line == "PING" {
                self.w.write_all(b"PONG\r\n").unwrap();
                continue;
            }
            let parts: Vec<&str> = line.split(' ').collect();
            if parts[0] != "MSG" {
                continue;
            }
            let len: usize = parts[parts.len() - 1].parse().unwrap();
            let mut payload = vec![0; len + 2];
            self.r.read_exact(&mut payload).unwrap();
            if parts[1] == inbox {
                return serde_json::from_slice(&payload[..len]).unwrap();
            }
        }
    }
}

fn base64(text: &str) -> Vec<u8> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ABC.iter().position(|&a| a == c).unwrap() as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes the stream OURS into `dir` as a Go server would find it.
fn write_store(dir: &Path) -> FileStore {
    let cfg = FileStoreConfig {
        block_size: 300,
        ..FileStoreConfig::new(dir)
    };
    let mut fs = FileStore::open(cfg, "OURS", Limits::default()).unwrap();
    let meta = json!({
        "Created": "2026-01-01T00:00:00Z", "name": "OURS", "subjects": ["ours.>"],
        "retention": "limits", "max_consumers": -1, "max_msgs": -1, "max_bytes": -1,
        "max_age": 0, "max_msgs_per_subject": -1, "max_msg_size": -1, "discard": "old",
        "storage": "file", "num_replicas": 1, "duplicate_window": 120_000_000_000u64,
        "allow_direct": false, "mirror_direct": false, "sealed": false,
        "deny_delete": false, "deny_purge": false, "allow_rollup_hdrs": false
    });
    fs.write_meta(meta.to_string().as_bytes()).unwrap();
    let now = 1_767_225_600_000_000_000i64;
    for i in 1..=30i64 {
        let hdr = if i % 5 == 0 {
            format!("NATS/1.0\r\nI: {i}\r\n\r\n")
        } else {
            String::new()
        };
        let subject = format!("ours.{}", i % 4);
        let payload = format!("message {i}");
        fs.store_msg(&subject, hdr.as_bytes(), payload.as_bytes(), now + i)
            .unwrap();
    }
    assert!(fs.remove_msg(1) && fs.remove_msg(7) && fs.erase_msg(12));
    fs.skip_msg(now + 31);
    fs.store_msg("ours.1", b"", b"message 32", now + 32)
        .unwrap();
    assert_eq!(fs.purge_ex("ours.3", 0, 0), Ok(6));
    fs
}

#[test]
fn go_reads_what_we_wrote() {
    let Some(go) = go_server() else {
        eprintln!("no Go nats-server: skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sd = tmp.path().join("sd");
    let dir = sd.join("jetstream/$G/streams/OURS");
    let mut fs = write_store(&dir);
    let st = fs.state();
    let subjects = fs.subjects_state("");
    let msgs: Vec<_> = (1..=st.last_seq).map(|s| fs.load_msg(s).ok()).collect();
    fs.stop().unwrap();
    assert!(std::fs::read_dir(dir.join("msgs")).unwrap().count() > 6);

    let port = free_port();
    let child = Command::new(go)
        .args(["-js", "-sd", sd.to_str().unwrap(), "-a", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = GoServer(child);
    let mut c = Client::connect(port);
    let info = c.request(
        "$JS.API.STREAM.INFO.OURS",
        json!({"deleted_details": true, "subjects_filter": ">"}),
    );
    let got = &info["state"];
    assert_eq!(got["messages"], st.msgs, "{info}");
    assert_eq!(got["bytes"], st.bytes);
    assert_eq!(got["first_seq"], st.first_seq);
    assert_eq!(got["last_seq"], st.last_seq);
    assert_eq!(got["num_subjects"], st.num_subjects);
    assert_eq!(got["deleted"], json!(st.deleted));
    assert_eq!(got["num_deleted"], st.num_deleted);
    let want: serde_json::Map<String, Value> = subjects
        .iter()
        .map(|(s, ss)| (s.clone(), json!(ss.msgs)))
        .collect();
    assert_eq!(got["subjects"], Value::Object(want));
    for (i, m) in msgs.iter().enumerate() {
        let seq = i as u64 + 1;
        let r = c.request("$JS.API.STREAM.MSG.GET.OURS", json!({ "seq": seq }));
        match m {
            None => assert_eq!(r["error"]["code"], 404, "seq {seq}: {r}"),
            Some(m) => {
                let got = &r["message"];
                assert_eq!(got["subject"], m.subject.as_str(), "seq {seq}: {r}");
                assert_eq!(base64(got["data"].as_str().unwrap()), m.msg, "seq {seq}");
                let hdrs = got["hdrs"].as_str().map(base64).unwrap_or_default();
                assert_eq!(hdrs, m.hdr, "seq {seq}");
            }
        }
    }
}
