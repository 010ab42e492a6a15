//! natsd fails closed: an option it parses but does not serve, and whose
//! absence would admit what the Go server refuses, stops it at start-up
//! and at `-t`, naming the option; a listener it does not open is only a
//! warning. Each case runs the real binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NATSD: &str = env!("CARGO_BIN_EXE_natsd");

fn config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("n.conf");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs natsd to completion (it must exit by itself within 10 s).
fn run(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(NATSD)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("natsd {args:?} did not exit: it started with a config it must refuse");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_refused(text: &str, option: &str, why: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = config(&dir, text);
    for args in [vec!["-c", path.as_str()], vec!["-t", "-c", path.as_str()]] {
        let (code, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains(&format!("\"{option}\": {why}")),
            "{args:?}: {err}"
        );
        assert!(err.contains("refusing to start"), "{err}");
    }
}

#[test]
fn operator_mode_is_refused() {
    let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.x";
    for key in [
        "operator",
        "operators",
        "root_operators",
        "trusted_keys",
        "trusted",
    ] {
        assert_refused(
            &format!("port: -1\n{key}: \"{jwt}\"\n"),
            key,
            "operator mode",
        );
    }
}

#[test]
fn account_resolvers_are_refused() {
    for text in [
        "resolver: MEMORY\n",
        "resolver: URL(\"http://127.0.0.1:9/jwt/v1/accounts/\")\n",
        "resolver {\n  type: full\n  dir: \"./jwt\"\n}\n",
        "resolver_preload {\n  AAA: \"x\"\n}\n",
        "resolver_pinned_accounts: [\"AAA\"]\n",
    ] {
        let option = text.split([':', ' ']).next().unwrap();
        assert_refused(&format!("port: -1\n{text}"), option, "account resolvers");
    }
}

#[test]
fn websocket_certificate_mapping_with_users_is_refused() {
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/src/kit/certs");
    let tls = format!(
        "tls {{\n  cert_file: \"{certs}/server-cert.pem\"\n  key_file: \"{certs}/server-key.pem\"\n  ca_file: \"{certs}/ca.pem\"\n  verify_and_map: true\n}}\n"
    );
    let users = "authorization { users [{user: \"CN=localhost\"}] }\n";
    assert_refused(
        &format!("port: -1\nwebsocket {{\n  port: -1\n  {tls}}}\n{users}"),
        "verify_and_map",
        "TLS certificate-to-user mapping for websocket clients",
    );
    // The client block's is served: the config passes `-t`.
    let dir = tempfile::tempdir().unwrap();
    let path = config(&dir, &format!("port: -1\n{tls}{users}"));
    let (code, err) = run(&["-t", "-c", path.as_str()]);
    assert_eq!(code, 0, "{err}");
}

/// Unserved listeners start natsd with a warning that names each one.
#[test]
fn unserved_listeners_only_warn() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        &dir,
        "port: -1\ncluster { port: -1 }\ngateway { name: g, port: -1 }\nleafnodes { port: -1 }\nmqtt { port: -1 }\n",
    );
    let mut child = Command::new(NATSD)
        .args(["-c", &path])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut warned = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains("Server is ready") => break,
            Ok(line) if line.contains("[WRN]") => warned.push(line),
            _ => {}
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for name in ["Cluster (routes)", "Gateway", "Leafnode", "MQTT"] {
        assert!(
            warned
                .iter()
                .any(|l| l.contains(&format!("{name} is not supported by natsd yet"))),
            "no warning for {name}: {warned:?}"
        );
    }
}

/// Encryption at rest is served: a `key` passes `-t`.
#[test]
fn store_encryption_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("js");
    let text = format!(
        "jetstream {{ key: \"s3cr3t\", cipher: aes, store_dir: \"{}\" }}\n",
        store.display()
    );
    let path = config(&dir, &text);
    let (code, err) = run(&["-t", "-c", path.as_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("refusing to start"), "{err}");
}
