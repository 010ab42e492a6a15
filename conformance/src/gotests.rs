//! The inventory of Go test functions in the nats-server 2.9.10 sources.
//!
//! `parity import-go` walks the sources, finds every `func TestXxx(t *testing.T)`
//! (and `TestMain(m *testing.M)`), gives each a category from the file it lives
//! in, and writes `parity-db/go-tests.csv`, sorted so that the bytes are the same
//! on every run.

use anyhow::{bail, Context, Result};
use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;

/// Where Debian's golang-github-nats-io-nats-server-dev puts the sources.
pub const DEFAULT_GO_SRC: &str = "/usr/share/gocode/src/github.com/nats-io/nats-server";

/// One Go test function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoTest {
    /// Path relative to the source root, with `/` separators.
    pub file: String,
    pub line: u32,
    pub name: String,
    pub category: String,
}

impl GoTest {
    /// `file:line`, the way the gaps show where a test lives.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// File → category. Every `_test.go` file that holds tests must be listed here:
/// an unknown file fails the import, so a new source release cannot slip by.
const CATEGORIES: &[(&str, &str)] = &[
    ("conf/lex_test.go", "config"),
    ("conf/parse_test.go", "config"),
    ("internal/ldap/dn_test.go", "tls"),
    ("logger/log_test.go", "lifecycle"),
    ("logger/syslog_test.go", "lifecycle"),
    ("logger/syslog_windows_test.go", "lifecycle"),
    ("server/accounts_test.go", "accounts"),
    ("server/auth_test.go", "auth"),
    ("server/client_test.go", "core"),
    ("server/closed_conns_test.go", "monitoring"),
    ("server/config_check_test.go", "config"),
    ("server/dirstore_test.go", "jwt"),
    ("server/errors_test.go", "misc"),
    ("server/events_test.go", "events"),
    ("server/filestore_test.go", "filestore"),
    ("server/gateway_test.go", "gateways"),
    ("server/ipqueue_test.go", "misc"),
    (
        "server/jetstream_chaos_cluster_test.go",
        "jetstream-cluster",
    ),
    (
        "server/jetstream_chaos_consumer_test.go",
        "jetstream-cluster",
    ),
    ("server/jetstream_chaos_kv_test.go", "jetstream-cluster"),
    ("server/jetstream_cluster_1_test.go", "jetstream-cluster"),
    ("server/jetstream_cluster_2_test.go", "jetstream-cluster"),
    ("server/jetstream_cluster_3_test.go", "jetstream-cluster"),
    ("server/jetstream_errors_test.go", "jetstream"),
    ("server/jetstream_jwt_test.go", "jetstream"),
    ("server/jetstream_leafnode_test.go", "jetstream-cluster"),
    (
        "server/jetstream_super_cluster_test.go",
        "jetstream-cluster",
    ),
    ("server/jetstream_test.go", "jetstream"),
    ("server/jwt_test.go", "jwt"),
    ("server/leafnode_test.go", "leafnodes"),
    ("server/log_test.go", "lifecycle"),
    ("server/memstore_test.go", "memstore"),
    ("server/monitor_test.go", "monitoring"),
    ("server/mqtt_test.go", "mqtt"),
    ("server/nkey_test.go", "auth"),
    ("server/norace_test.go", "norace"),
    ("server/opts_test.go", "config"),
    ("server/parser_test.go", "core"),
    ("server/ping_test.go", "core"),
    ("server/pse/pse_test.go", "misc"),
    ("server/pse/pse_windows_test.go", "misc"),
    ("server/raft_test.go", "raft"),
    ("server/rate_counter_test.go", "misc"),
    ("server/reload_test.go", "reload"),
    ("server/ring_test.go", "monitoring"),
    ("server/routes_test.go", "routes"),
    ("server/server_test.go", "lifecycle"),
    ("server/service_test.go", "lifecycle"),
    ("server/signal_test.go", "lifecycle"),
    ("server/split_test.go", "core"),
    ("server/sublist_test.go", "subjects"),
    ("server/trust_test.go", "jwt"),
    ("server/util_test.go", "misc"),
    ("server/websocket_test.go", "websocket"),
    ("test/accounts_cycles_test.go", "accounts"),
    ("test/auth_test.go", "auth"),
    ("test/client_auth_test.go", "auth"),
    ("test/client_cluster_test.go", "routes"),
    ("test/cluster_test.go", "routes"),
    ("test/cluster_tls_test.go", "routes"),
    ("test/fanout_test.go", "core"),
    ("test/gateway_test.go", "gateways"),
    ("test/gosrv_test.go", "misc"),
    ("test/leafnode_test.go", "leafnodes"),
    ("test/maxpayload_test.go", "core"),
    ("test/monitor_test.go", "monitoring"),
    ("test/new_routes_test.go", "routes"),
    ("test/norace_test.go", "norace"),
    ("test/ocsp_test.go", "tls"),
    ("test/operator_test.go", "jwt"),
    ("test/opts_test.go", "config"),
    ("test/pedantic_test.go", "core"),
    ("test/pid_test.go", "lifecycle"),
    ("test/ping_test.go", "core"),
    ("test/port_test.go", "lifecycle"),
    ("test/ports_test.go", "lifecycle"),
    ("test/proto_test.go", "core"),
    ("test/route_discovery_test.go", "routes"),
    ("test/routes_test.go", "routes"),
    ("test/service_latency_test.go", "accounts"),
    ("test/services_test.go", "accounts"),
    ("test/system_services_test.go", "events"),
    ("test/test_test.go", "misc"),
    ("test/tls_test.go", "tls"),
    ("test/user_authorization_test.go", "auth"),
    ("test/verbose_test.go", "core"),
];

/// All categories, in the order the gaps list them.
pub const CATEGORY_ORDER: &[&str] = &[
    "core",
    "subjects",
    "auth",
    "accounts",
    "jwt",
    "tls",
    "config",
    "reload",
    "monitoring",
    "events",
    "lifecycle",
    "routes",
    "gateways",
    "leafnodes",
    "websocket",
    "mqtt",
    "jetstream",
    "jetstream-cluster",
    "filestore",
    "memstore",
    "raft",
    "norace",
    "misc",
];

/// The category of a test file, if the table knows it.
pub fn category_of(file: &str) -> Option<&'static str> {
    CATEGORIES.iter().find(|(f, _)| *f == file).map(|(_, c)| *c)
}

static TEST_FUNC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^func (Test[A-Za-z0-9_]*)\(\s*\w+\s+\*testing\.[TM]\s*\)").expect("valid regex")
});

/// The test functions declared in one Go source file, with 1-based line numbers.
pub fn parse_go_file(source: &str) -> Vec<(String, u32)> {
    source
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            TEST_FUNC
                .captures(line)
                .map(|c| (c[1].to_string(), i as u32 + 1))
        })
        .collect()
}

/// Walks a source tree and returns every Go test, sorted by file then line.
pub fn scan(src_root: &Path) -> Result<Vec<GoTest>> {
    if !src_root.join("server").is_dir() {
        bail!(
            "{} does not look like the nats-server sources (no server/ folder); run scripts/setup.sh or pass --src",
            src_root.display()
        );
    }
    let mut tests = Vec::new();
    for entry in walkdir::WalkDir::new(src_root).sort_by_file_name() {
        let entry = entry?;
        let path = entry.path();
        let is_test_file = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("_test.go"));
        if !entry.file_type().is_file() || !is_test_file {
            continue;
        }
        let rel = path
            .strip_prefix(src_root)?
            .to_string_lossy()
            .replace('\\', "/");
        let source =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let found = parse_go_file(&source);
        if found.is_empty() {
            continue;
        }
        let category = category_of(&rel).with_context(|| {
            format!("{rel} holds Go tests but has no category: add it to the table in gotests.rs")
        })?;
        tests.extend(found.into_iter().map(|(name, line)| GoTest {
            file: rel.clone(),
            line,
            name,
            category: category.to_string(),
        }));
    }
    tests.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(tests)
}

const CSV_HEADER: [&str; 4] = ["file", "line", "name", "category"];

/// Writes the inventory as CSV; the same tests always give the same bytes.
pub fn write_csv(tests: &[GoTest], path: &Path) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(CSV_HEADER)?;
    for t in tests {
        w.write_record([&t.file, &t.line.to_string(), &t.name, &t.category])?;
    }
    w.flush()?;
    Ok(())
}

/// Reads the committed inventory.
pub fn read_csv(path: &Path) -> Result<Vec<GoTest>> {
    let mut r = csv::Reader::from_path(path)
        .with_context(|| format!("reading {} (run `parity import-go`)", path.display()))?;
    let mut tests = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        if rec.len() != 4 {
            bail!("{}: bad row {:?}", path.display(), rec);
        }
        tests.push(GoTest {
            file: rec[0].to_string(),
            line: rec[1].parse().context("line number")?,
            name: rec[2].to_string(),
            category: rec[3].to_string(),
        });
    }
    Ok(tests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_functions_with_their_lines() {
        let src = "package server\n\nimport \"testing\"\n\nfunc TestFoo(t *testing.T) {\n}\n\
                   func helper(t *testing.T) {}\nfunc TestBar_baz(t *testing.T) {}\n\
                   func BenchmarkX(b *testing.B) {}\nfunc TestMain(m *testing.M) {}\n\
                   // func TestCommented(t *testing.T) {}\n\tfunc TestIndented(t *testing.T) {}\n";
        assert_eq!(
            parse_go_file(src),
            vec![
                ("TestFoo".to_string(), 5),
                ("TestBar_baz".to_string(), 8),
                ("TestMain".to_string(), 10),
            ]
        );
    }

    #[test]
    fn test_helpers_taking_other_args_are_not_tests() {
        let src = "func TestHelper(t *testing.T, x int) {}\nfunc TestX(tt *testing.T) {}\n";
        assert_eq!(parse_go_file(src), vec![("TestX".to_string(), 2)]);
    }

    #[test]
    fn every_category_in_the_table_is_ordered() {
        for (file, cat) in CATEGORIES {
            assert!(
                CATEGORY_ORDER.contains(cat),
                "{file}: category {cat} missing from CATEGORY_ORDER"
            );
        }
    }

    #[test]
    fn csv_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let tests = vec![GoTest {
            file: "test/proto_test.go".into(),
            line: 12,
            name: "TestProtoBasics".into(),
            category: "core".into(),
        }];
        write_csv(&tests, &path).unwrap();
        assert_eq!(read_csv(&path).unwrap(), tests);
    }
}
