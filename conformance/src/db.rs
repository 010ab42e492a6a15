//! The parity database (SQLite): built from the committed text sources, the
//! scenario registry and run results. The schema is `parity-db/schema.sql`.

use crate::classifications::{Classification, Decision};
use crate::gotests::GoTest;
use crate::registry::{ResolvedMapping, Scenario};
use crate::status::{Coverage, Outcome, TargetResult};
use anyhow::{Context, Result};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::path::Path;

const SCHEMA: &str = include_str!("../../parity-db/schema.sql");
/// The `user_version` schema.sql sets.
const SCHEMA_VERSION: i64 = 3;

pub struct Db {
    conn: Connection,
}

/// One stored result with its run's target.
#[derive(Debug, Clone)]
pub struct StoredResult {
    pub result: TargetResult,
    pub duration_ms: u64,
    /// The fingerprint of the scenario sources of its run.
    pub harness: String,
}

/// A Go test's identity: (file, name).
pub type GoTestKey = (String, String);

/// One scenario mapped to a Go test.
#[derive(Debug, Clone)]
pub struct StoredMapping {
    pub scenario_id: String,
    pub coverage: Coverage,
    /// Why a full claim was refused, if it was.
    pub refusal: String,
    /// For a partial mapping: what it leaves out, and why.
    pub partial_why: String,
}

/// Go test → the scenarios mapped to it.
pub type MappingsByTest = HashMap<GoTestKey, Vec<StoredMapping>>;

/// Latest result per (scenario id, target name).
pub type LatestResults = HashMap<(String, String), StoredResult>;

/// A run's identity, as stored.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub id: i64,
    pub target: String,
    pub server_version: String,
    pub git_revision: String,
    pub harness: String,
    pub started_at: String,
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        Self::init(conn)
    }

    /// An in-memory database (tests, fixtures).
    pub fn in_memory() -> Result<Db> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Db> {
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != SCHEMA_VERSION {
            // Nothing in the database is a source: an older one is rebuilt.
            conn.execute_batch(
                "PRAGMA foreign_keys = OFF;
                 DROP TABLE IF EXISTS results; DROP TABLE IF EXISTS runs;
                 DROP TABLE IF EXISTS mappings; DROP TABLE IF EXISTS scenarios;
                 DROP TABLE IF EXISTS classifications; DROP TABLE IF EXISTS go_tests;
                 DROP TABLE IF EXISTS source_lines;
                 PRAGMA foreign_keys = ON;",
            )?;
        }
        conn.execute_batch(SCHEMA).context("applying schema.sql")?;
        Ok(Db { conn })
    }

    /// Replaces the Go tests, classifications, scenarios and mappings with
    /// the committed sources and the registry, in one transaction, so that
    /// another parity process never sees a registry half loaded.
    pub fn load(
        &mut self,
        tests: &[GoTest],
        classes: &[Classification],
        scenarios: &[Scenario],
        mappings: &[ResolvedMapping],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        Self::write_sources(&tx, tests, classes)?;
        Self::write_registry(&tx, scenarios, mappings)?;
        tx.commit()?;
        Ok(())
    }

    fn write_sources(
        tx: &rusqlite::Transaction,
        tests: &[GoTest],
        classes: &[Classification],
    ) -> Result<()> {
        tx.execute_batch(
            "DELETE FROM mappings; DELETE FROM classifications; DELETE FROM go_tests;",
        )?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO go_tests (file, name, line, category) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for t in tests {
                ins.execute(params![t.file, t.name, t.line, t.category])?;
            }
            let mut ins = tx.prepare(
                "INSERT INTO classifications (file, name, status, kind, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for c in classes {
                ins.execute(params![
                    c.file,
                    c.name,
                    c.decision.as_str(),
                    c.kind,
                    c.reason
                ])
                .with_context(|| {
                    format!("classification of {}:{} names no Go test", c.file, c.name)
                })?;
            }
        }
        Ok(())
    }

    fn write_registry(
        tx: &rusqlite::Transaction,
        scenarios: &[Scenario],
        mappings: &[ResolvedMapping],
    ) -> Result<()> {
        tx.execute_batch("DELETE FROM mappings; DELETE FROM scenarios;")?;
        {
            let mut ins =
                tx.prepare("INSERT INTO scenarios (id, category, needs) VALUES (?1, ?2, ?3)")?;
            for s in scenarios {
                ins.execute(params![s.id, s.category, s.needs_label()])?;
            }
            let mut ins = tx.prepare(
                "INSERT INTO mappings (scenario_id, file, name, coverage, refusal, partial_why) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for m in mappings {
                ins.execute(params![
                    m.scenario_id,
                    m.file,
                    m.name,
                    m.coverage.as_str(),
                    m.refusal,
                    m.partial_why
                ])?;
            }
        }
        Ok(())
    }

    pub fn begin_run(
        &self,
        target: &str,
        server_version: &str,
        git_revision: &str,
        harness: &str,
        started_at: &str,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO runs (target, server_version, git_revision, harness, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![target, server_version, git_revision, harness, started_at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn insert_result(
        &self,
        run_id: i64,
        scenario_id: &str,
        result: &TargetResult,
        duration_ms: u64,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO results (run_id, scenario_id, outcome, duration_ms, message, observations, flaky)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run_id,
                scenario_id,
                result.outcome.as_str(),
                duration_ms as i64,
                result.message,
                result.observations,
                result.flaky
            ],
        )?;
        Ok(())
    }

    pub fn run(&self, id: i64) -> Result<RunInfo> {
        Ok(self.conn.query_row(
            "SELECT id, target, server_version, git_revision, harness, started_at FROM runs WHERE id = ?1",
            [id],
            |r| {
                Ok(RunInfo {
                    id: r.get(0)?,
                    target: r.get(1)?,
                    server_version: r.get(2)?,
                    git_revision: r.get(3)?,
                    harness: r.get(4)?,
                    started_at: r.get(5)?,
                })
            },
        )?)
    }

    /// The newest result of every scenario still in the registry, per target.
    pub fn latest_results(&self) -> Result<LatestResults> {
        let mut stmt = self.conn.prepare(
            "SELECT r.scenario_id, runs.target, r.outcome, r.duration_ms, r.message, r.observations,
                    r.flaky, runs.harness
             FROM results r JOIN runs ON runs.id = r.run_id
             JOIN scenarios s ON s.id = r.scenario_id
             WHERE r.run_id = (SELECT max(r2.run_id) FROM results r2 JOIN runs x ON x.id = r2.run_id
                               WHERE r2.scenario_id = r.scenario_id AND x.target = runs.target)",
        )?;
        let rows = stmt.query_map([], |r| {
            let outcome: String = r.get(2)?;
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                StoredResult {
                    result: TargetResult {
                        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Fail),
                        message: r.get(4)?,
                        observations: r.get(5)?,
                        flaky: r.get(6)?,
                    },
                    duration_ms: r.get::<_, i64>(3)? as u64,
                    harness: r.get(7)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn go_tests(&self) -> Result<Vec<GoTest>> {
        let mut stmt = self
            .conn
            .prepare("SELECT file, line, name, category FROM go_tests ORDER BY file, line")?;
        let rows = stmt.query_map([], |r| {
            Ok(GoTest {
                file: r.get(0)?,
                line: r.get(1)?,
                name: r.get(2)?,
                category: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The Go tests DEFERRED until this capability lands.
    pub fn deferred_on(&self, capability: &str) -> Result<std::collections::HashSet<GoTestKey>> {
        let mut stmt = self.conn.prepare(
            "SELECT file, name FROM classifications WHERE status = 'DEFERRED' AND kind = ?1",
        )?;
        let rows = stmt.query_map([capability], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// (file, name) → (decision, "kind: reason").
    pub fn classifications(&self) -> Result<HashMap<GoTestKey, (Decision, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT file, name, status, kind || ': ' || reason FROM classifications")?;
        let rows = stmt.query_map([], |r| {
            let status: String = r.get(2)?;
            Ok((
                (r.get(0)?, r.get(1)?),
                (
                    Decision::parse(&status).unwrap_or(Decision::Deferred),
                    r.get(3)?,
                ),
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// (file, name) → the mapped scenarios, ids sorted.
    pub fn mappings(&self) -> Result<MappingsByTest> {
        let mut stmt = self.conn.prepare(
            "SELECT file, name, scenario_id, coverage, refusal, partial_why FROM mappings ORDER BY scenario_id",
        )?;
        let mut out = MappingsByTest::new();
        let rows = stmt.query_map([], |r| {
            let cov: String = r.get(3)?;
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                StoredMapping {
                    scenario_id: r.get(2)?,
                    coverage: Coverage::parse(&cov).unwrap_or(Coverage::Partial),
                    refusal: r.get(4)?,
                    partial_why: r.get(5)?,
                },
            ))
        })?;
        for row in rows {
            let (key, m) = row?;
            out.entry(key).or_default().push(m);
        }
        Ok(out)
    }

    /// Scenario id → category, sorted by id.
    pub fn scenarios(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, category FROM scenarios ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn set_source_lines(&mut self, rows: &[(String, &str, u64)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM source_lines", [])?;
        {
            let mut ins = tx
                .prepare("INSERT INTO source_lines (subsystem, side, lines) VALUES (?1, ?2, ?3)")?;
            for (subsystem, side, lines) in rows {
                ins.execute(params![subsystem, side, *lines as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// subsystem → (Go lines, natsd lines).
    pub fn source_lines(&self) -> Result<Vec<(String, u64, u64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT subsystem,
                    sum(CASE side WHEN 'go' THEN lines ELSE 0 END),
                    sum(CASE side WHEN 'natsd' THEN lines ELSE 0 END)
             FROM source_lines GROUP BY subsystem ORDER BY subsystem",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
