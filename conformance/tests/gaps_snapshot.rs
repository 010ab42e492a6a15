//! Snapshot tests of the generated markdown, from a fixture database that
//! exercises every status.

use futures::future::BoxFuture;
use futures::FutureExt;
use parity::classifications::{Classification, Decision};
use parity::db::Db;
use parity::gaps;
use parity::gotests::GoTest;
use parity::kit::{Ctx, Target};
use parity::registry::{self, Scenario};
use parity::reports;
use parity::runner::ScenarioRun;
use parity::status::{Outcome, Status, TargetResult};

fn noop(_: Ctx) -> BoxFuture<'static, anyhow::Result<()>> {
    async { Ok(()) }.boxed()
}

fn go_test(file: &str, line: u32, name: &str, category: &str) -> GoTest {
    GoTest {
        file: file.into(),
        line,
        name: name.into(),
        category: category.into(),
    }
}

fn result(outcome: Outcome, message: &str, obs: &[(&str, &str)]) -> TargetResult {
    let obs: Vec<(String, String)> = obs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TargetResult {
        outcome,
        message: message.into(),
        observations: serde_json::to_string(&obs).unwrap(),
        flaky: false,
    }
}

/// (scenario, go result, natsd result)
fn fixture_runs() -> Vec<(&'static str, TargetResult, TargetResult)> {
    let pass = |obs| result(Outcome::Pass, "", obs);
    vec![
        ("core/equal", pass(&[("err", "x")]), pass(&[("err", "x")])),
        (
            "core/differs",
            pass(&[("err", "x")]),
            pass(&[("err", "y|z")]),
        ),
        (
            "core/fails-on-natsd",
            pass(&[]),
            result(Outcome::Fail, "expected /PONG/\nsecond line", &[]),
        ),
        (
            "core/broken",
            result(Outcome::Timeout, "no result within 30s", &[]),
            pass(&[]),
        ),
        ("auth/partial", pass(&[("a", "1")]), pass(&[("a", "1")])),
    ]
}

fn fixture() -> (Db, Vec<ScenarioRun>) {
    let tests = vec![
        go_test("test/proto_test.go", 10, "TestPorted", "core"),
        go_test("test/proto_test.go", 20, "TestDiffers", "core"),
        go_test("test/proto_test.go", 30, "TestFailing", "core"),
        go_test("test/proto_test.go", 40, "TestBroken", "core"),
        go_test("test/proto_test.go", 50, "TestUnmapped", "core"),
        go_test("server/sublist_test.go", 5, "TestMain", "subjects"),
        go_test("server/auth_test.go", 7, "TestPartial", "auth"),
        go_test("server/auth_test.go", 9, "TestLater", "auth"),
    ];
    let classes = vec![
        Classification {
            file: "server/sublist_test.go".into(),
            name: "TestMain".into(),
            decision: Decision::NotApplicable,
            kind: "go-runtime-internal".into(),
            reason: "Go test harness entry point".into(),
        },
        Classification {
            file: "server/auth_test.go".into(),
            name: "TestLater".into(),
            decision: Decision::Deferred,
            kind: "jwt".into(),
            reason: "needs JWT".into(),
        },
    ];
    let scenarios = vec![
        Scenario::new("core/equal", noop).full("TestPorted"),
        Scenario::new("core/differs", noop).full("TestDiffers"),
        Scenario::new("core/fails-on-natsd", noop)
            .full("TestFailing")
            .partial("TestPorted"),
        Scenario::new("core/broken", noop).full("TestBroken"),
        Scenario::new("auth/partial", noop).partial("TestPartial"),
    ];
    let mut db = Db::in_memory().unwrap();
    let mappings = registry::resolve(&scenarios, &tests).unwrap();
    db.load(&tests, &classes, &scenarios, &mappings).unwrap();
    db.set_source_lines(&[
        ("core".into(), "go", 1000),
        ("core".into(), "natsd", 400),
        ("auth".into(), "go", 300),
    ])
    .unwrap();

    // An older natsd run whose results must be superseded by the newer one.
    let old = db
        .begin_run("rust", "natsd 0.0.1", "abc", "h", "2026-01-01T00:00:00Z")
        .unwrap();
    db.insert_result(
        old,
        "core/fails-on-natsd",
        &result(Outcome::Pass, "", &[]),
        1,
    )
    .unwrap();
    let go = db
        .begin_run(
            "go",
            "nats-server: v2.9.10",
            "abc",
            "h",
            "2026-01-02T00:00:00Z",
        )
        .unwrap();
    let rust = db
        .begin_run("rust", "natsd 0.1.0", "abc", "h", "2026-01-02T00:00:00Z")
        .unwrap();
    let mut runs = Vec::new();
    for (id, g, r) in fixture_runs() {
        db.insert_result(go, id, &g, 10).unwrap();
        db.insert_result(rust, id, &r, 20).unwrap();
        runs.push(ScenarioRun {
            scenario_id: id,
            target: Target::Go,
            result: g,
            duration_ms: 10,
        });
        runs.push(ScenarioRun {
            scenario_id: id,
            target: Target::Rust,
            result: r,
            duration_ms: 20,
        });
    }
    (db, runs)
}

#[test]
fn gaps_markdown() {
    let (db, _) = fixture();
    let rows = gaps::compute(&db, &Default::default(), &Default::default()).unwrap();
    let core: Vec<_> = rows.iter().filter(|r| r.test.category == "core").collect();
    insta::assert_snapshot!("gaps_core", gaps::render_category("core", &core));
    let auth: Vec<_> = rows.iter().filter(|r| r.test.category == "auth").collect();
    insta::assert_snapshot!("gaps_auth", gaps::render_category("auth", &auth));
    insta::assert_snapshot!(
        "gaps_readme",
        gaps::render_summary(
            &rows,
            db.scenarios().unwrap().len(),
            &db.source_lines().unwrap()
        )
    );
}

#[test]
fn same_database_same_bytes() {
    let (db, _) = fixture();
    let render = || {
        let rows = gaps::compute(&db, &Default::default(), &Default::default()).unwrap();
        gaps::render_summary(&rows, 5, &db.source_lines().unwrap())
    };
    assert_eq!(render(), render());
}

fn statuses_of(dir: &std::path::Path) -> std::collections::HashMap<(String, String), Status> {
    let text = std::fs::read_to_string(dir.join("core.md")).unwrap();
    gaps::parse_statuses(&text).into_iter().collect()
}

#[test]
fn written_gaps_read_back() {
    let (db, _) = fixture();
    let rows = gaps::compute(&db, &Default::default(), &Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    gaps::write_all(dir.path(), &rows, 5, &[]).unwrap();
    let key = ("test/proto_test.go".to_string(), "TestPorted".to_string());
    // TestPorted is FAILING here (a partial mapping fails on natsd)...
    assert_eq!(statuses_of(dir.path())[&key], Status::Failing);
    // ...until the failing scenario's natsd result is a pass.
    let rust = db
        .begin_run("rust", "natsd", "abc", "h", "2026-01-03T00:00:00Z")
        .unwrap();
    db.insert_result(
        rust,
        "core/fails-on-natsd",
        &result(Outcome::Pass, "", &[]),
        5,
    )
    .unwrap();
    let rows = gaps::compute(&db, &Default::default(), &Default::default()).unwrap();
    gaps::write_all(dir.path(), &rows, 5, &[]).unwrap();
    assert_eq!(statuses_of(dir.path())[&key], Status::Ported);
}

#[test]
fn diff_report() {
    let (_, runs) = fixture();
    insta::assert_snapshot!("diff", reports::render_diff(&runs));
}
