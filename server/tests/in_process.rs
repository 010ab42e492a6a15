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
        let wr = TcpStream::connect(addr).expect("connect");
        wr.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let mut c = Client {
            rd: BufReader::new(wr.try_clone().unwrap()),
            wr,
        };
        assert!(c.line().starts_with("INFO {"));
        c.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
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
