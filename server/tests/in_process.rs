//! natsd started in-process through the library: two servers in one
//! process, each routing messages among its own clients and writing its
//! own log.

use natsd::embedded::Embedded;
use natsd::options::Options;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Every read in these tests gives up after this long.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

fn options(log_file: &std::path::Path) -> Options {
    Options {
        host: "127.0.0.1".into(),
        port: -1,
        log_file: log_file.display().to_string(),
        ..Options::with_flag_defaults()
    }
}

/// A raw client past INFO and CONNECT.
struct Client {
    rd: BufReader<TcpStream>,
    wr: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        Self::connect_with(addr, "{\"verbose\":false}")
    }

    /// A client whose CONNECT carries `connect` (a JSON object).
    fn connect_with(addr: SocketAddr, connect: &str) -> Client {
        let wr = TcpStream::connect(addr).expect("connect");
        wr.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let mut c = Client {
            rd: BufReader::new(wr.try_clone().unwrap()),
            wr,
        };
        assert!(c.line().starts_with("INFO {"));
        c.send(&format!("CONNECT {connect}\r\nPING\r\n"));
        assert_eq!(c.line(), "PONG\r\n");
        c
    }

    fn send(&mut self, s: &str) {
        self.wr.write_all(s.as_bytes()).unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.rd
            .read_line(&mut l)
            .expect("a line before the timeout");
        l
    }

    fn payload(&mut self, n: usize) -> Vec<u8> {
        let mut b = vec![0; n + 2];
        self.rd.read_exact(&mut b).unwrap();
        b.truncate(n);
        b
    }
}

#[test]
fn two_servers_in_one_process_route_and_log_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let a = Embedded::start(options(&log_a)).expect("server a starts");
    let b = Embedded::start(options(&log_b)).expect("server b starts");
    assert_ne!(a.addr(), b.addr());

    for (server, subject) in [(&a, "to.a"), (&b, "to.b")] {
        let mut sub = Client::connect(server.addr());
        sub.send(&format!("SUB {subject} 1\r\nPING\r\n"));
        assert_eq!(sub.line(), "PONG\r\n");
        let mut publisher = Client::connect(server.addr());
        publisher.send(&format!("PUB {subject} reply 5\r\nhello\r\nPING\r\n"));
        assert_eq!(publisher.line(), "PONG\r\n");
        assert_eq!(sub.line(), format!("MSG {subject} 1 reply 5\r\n"));
        assert_eq!(sub.payload(5), b"hello");
    }
    // One server's subscriber sees nothing published on the other.
    let mut on_a = Client::connect(a.addr());
    on_a.send("SUB shared 1\r\nPING\r\n");
    assert_eq!(on_a.line(), "PONG\r\n");
    let mut on_b = Client::connect(b.addr());
    on_b.send("PUB shared 2\r\nhi\r\nPING\r\n");
    assert_eq!(on_b.line(), "PONG\r\n");
    on_a.send("PING\r\n");
    assert_eq!(on_a.line(), "PONG\r\n");

    let (port_a, port_b) = (a.addr().port(), b.addr().port());
    drop((a, b));
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    let (text_a, text_b) = (read(&log_a), read(&log_b));
    let listening = |port: u16| format!("Listening for client connections on 127.0.0.1:{port}");
    assert!(text_a.contains(&listening(port_a)), "a's log: {text_a}");
    assert!(!text_a.contains(&listening(port_b)), "a's log: {text_a}");
    assert!(text_b.contains(&listening(port_b)), "b's log: {text_b}");
    assert!(!text_b.contains(&listening(port_a)), "b's log: {text_b}");
    for text in [&text_a, &text_b] {
        assert_eq!(text.matches("Server is ready").count(), 1);
        assert!(text.contains("Server Exiting.."));
    }
}

/// A request of account B crosses B's service import into account A with
/// a reply subject of A's, and the response comes back on B's own reply.
#[test]
fn requests_cross_a_service_import_and_responses_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("imports.conf");
    std::fs::write(
        &conf,
        "accounts {\n  A { users [{user: a, password: a}], exports [{service: \"req.*\"}] }\n  B { users [{user: b, password: b}], imports [{service: {account: A, subject: \"req.*\"}, to: \"ask.*\"}] }\n}\n",
    )
    .unwrap();
    let mut opts = options(&dir.path().join("s.log"));
    opts.process_config_file(&conf.display().to_string())
        .expect("the config loads");
    let s = Embedded::start(opts).expect("the server starts");
    let login = |u: &str| format!("{{\"verbose\":false,\"user\":\"{u}\",\"pass\":\"{u}\"}}");
    let mut responder = Client::connect_with(s.addr(), &login("a"));
    responder.send("SUB req.* 1\r\nPING\r\n");
    assert_eq!(responder.line(), "PONG\r\n");
    let mut requester = Client::connect_with(s.addr(), &login("b"));
    requester.send("SUB inbox 1\r\nPUB ask.x inbox 3\r\nreq\r\nPING\r\n");
    assert_eq!(requester.line(), "PONG\r\n");
    // The responder did not ask for headers: the request info is left out.
    let msg = responder.line();
    let fields: Vec<&str> = msg.split_whitespace().collect();
    assert_eq!(fields[..3], ["MSG", "req.x", "1"], "{msg}");
    assert!(fields[3].starts_with("_R_."), "{msg}");
    assert_eq!(responder.payload(3), b"req");
    responder.send(&format!("PUB {} 4\r\nresp\r\nPING\r\n", fields[3]));
    assert_eq!(responder.line(), "PONG\r\n");
    assert_eq!(requester.line(), "MSG inbox 1 4\r\n");
    assert_eq!(requester.payload(4), b"resp");
}

/// Reads one `MSG` and its payload, as text.
fn msg_payload(c: &mut Client) -> String {
    let line = c.line();
    let size: usize = line
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a MSG line: {line}"));
    String::from_utf8(c.payload(size)).unwrap()
}

#[test]
fn a_file_stream_keeps_its_messages_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let start = || {
        let mut opts = options(&dir.path().join("s.log"));
        opts.jetstream = true;
        opts.store_dir = store.display().to_string();
        Embedded::start(opts).expect("the server starts")
    };
    let s = start();
    let mut c = Client::connect(s.addr());
    let cfg = r#"{"name":"ORDERS","subjects":["orders.*"]}"#;
    c.send(&format!(
        "SUB inbox 1\r\nPUB $JS.API.STREAM.CREATE.ORDERS inbox {}\r\n{cfg}\r\n",
        cfg.len()
    ));
    let created = msg_payload(&mut c);
    assert!(created.contains(r#""did_create":true"#), "{created}");
    for i in 1..=3 {
        c.send(&format!("PUB orders.new inbox 1\r\n{i}\r\n"));
        assert_eq!(
            msg_payload(&mut c),
            format!(r#"{{"stream":"ORDERS", "seq":{i}}}"#)
        );
    }
    drop(c);
    drop(s);
    let s = start();
    let mut c = Client::connect(s.addr());
    let get = r#"{"seq":2}"#;
    c.send(&format!(
        "SUB inbox 1\r\nPUB $JS.API.STREAM.MSG.GET.ORDERS inbox {}\r\n{get}\r\n",
        get.len()
    ));
    let got = msg_payload(&mut c);
    // "2" in base64.
    assert!(
        got.contains(r#""subject":"orders.new","seq":2,"data":"Mg==""#),
        "{got}"
    );
}
