//! Lines of source per subsystem, Go against natsd, for the gaps summary.

use anyhow::Result;
use std::collections::BTreeMap;
use std::path::Path;

/// Keyword in a file's path → subsystem, first match wins. One table serves
/// both the Go file names (`server/route.go`) and natsd's module paths
/// (`server/src/cluster/routes.rs`).
const RULES: &[(&[&str], &str)] = &[
    (&["filestore"], "filestore"),
    (&["memstore"], "memstore"),
    (&["raft"], "raft"),
    (&["jetstream", "stream", "consumer", "store"], "jetstream"),
    (&["mqtt"], "mqtt"),
    (&["websocket"], "websocket"),
    (&["leaf"], "leafnodes"),
    (&["gateway"], "gateways"),
    (&["route", "cluster"], "routes"),
    (&["monitor"], "monitoring"),
    (&["reload"], "reload"),
    (&["events"], "events"),
    (&["account"], "accounts"),
    (&["jwt", "trust"], "jwt"),
    (&["nkey", "auth"], "auth"),
    (&["sublist", "subject"], "subjects"),
    (&["opts", "options", "config", "conf/", "flags"], "config"),
    (&["ocsp", "tls", "cipher"], "tls"),
    (&["signal", "service", "log", "main"], "lifecycle"),
];

pub fn subsystem_of(path: &str) -> &'static str {
    RULES
        .iter()
        .find(|(keys, _)| keys.iter().any(|k| path.contains(k)))
        .map(|(_, s)| *s)
        .unwrap_or("core")
}

fn count(
    root: &Path,
    keep: impl Fn(&str) -> bool,
    into: &mut BTreeMap<&'static str, u64>,
) -> Result<()> {
    if !root.is_dir() {
        return Ok(());
    }
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)?
            .to_string_lossy()
            .replace('\\', "/");
        if keep(&rel) {
            let lines = std::fs::read_to_string(entry.path())?.lines().count() as u64;
            *into.entry(subsystem_of(&rel)).or_insert(0) += lines;
        }
    }
    Ok(())
}

/// (subsystem, side, lines) for the Go sources and natsd's `server/`.
pub fn count_lines(go_src: &Path, natsd_src: &Path) -> Result<Vec<(String, &'static str, u64)>> {
    let mut go = BTreeMap::new();
    count(
        go_src,
        |p| {
            p.ends_with(".go")
                && !p.ends_with("_test.go")
                && (p.starts_with("server/")
                    || p.starts_with("conf/")
                    || p.starts_with("logger/")
                    || p == "main.go")
        },
        &mut go,
    )?;
    // Like the Go side, tests do not count; nor do fuzz targets or build output.
    let natsd_code = |p: &str| {
        p.ends_with(".rs")
            && !["target/", "fuzz/", "tests/"]
                .iter()
                .any(|skip| p.starts_with(skip) || p.contains(&format!("/{skip}")))
    };
    let mut natsd = BTreeMap::new();
    count(natsd_src, natsd_code, &mut natsd)?;
    let mut rows = Vec::new();
    for (side, map) in [("go", go), ("natsd", natsd)] {
        rows.extend(map.into_iter().map(|(s, n)| (s.to_string(), side, n)));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::subsystem_of;

    #[test]
    fn go_and_rust_paths_land_in_the_same_subsystems() {
        assert_eq!(subsystem_of("server/route.go"), "routes");
        assert_eq!(subsystem_of("src/cluster/routes.rs"), "routes");
        assert_eq!(subsystem_of("server/filestore.go"), "filestore");
        assert_eq!(subsystem_of("server/monitor_sort_opts.go"), "monitoring");
        assert_eq!(subsystem_of("conf/lex.go"), "config");
        assert_eq!(subsystem_of("server/client.go"), "core");
        assert_eq!(subsystem_of("src/proto/parser.rs"), "core");
    }
}
