//! Scenarios from server/server_test.go, server/signal_test.go,
//! server/log_test.go, server/service_test.go, logger/log_test.go,
//! logger/syslog_test.go, test/pid_test.go, test/port_test.go and
//! test/ports_test.go: start-up and shutdown, the command line, signals (sent
//! only to the server the scenario started), lame duck mode, log output
//! (stderr, log files, rotation, remote syslog), pid and ports files.

use crate::check_eq;
use crate::kit::{self, Ctx, RawClient, Ready, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{anyhow, bail, Context, Result};
use futures::FutureExt;
use nix::sys::signal::Signal;
use regex::Regex;
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long a scenario waits for a log line, a file or an exit.
const WAIT: Duration = Duration::from_secs(5);

/// The CONNECT of the raw clients: no +OK, protocol 1.
const CONNECT: &str = r#"{"verbose":false,"protocol":1}"#;

pub fn scenarios() -> Vec<Scenario> {
    let mut v = cli_scenarios();
    v.push(
        Scenario::new("lifecycle/tls-names", |c| tls_names(c).boxed())
            .partial("TestTLSVersions")
            .partial("TestTlsCipher"),
    );
    v.extend(signal_scenarios());
    v.extend(server_scenarios());
    v.extend(log_scenarios());
    v.extend(syslog_scenarios());
    v
}

fn cli_scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("lifecycle/cli-version", |c| cli_version(c).boxed())
            .partial("TestProcessCommandLineArgs"),
        Scenario::new("lifecycle/cli-help", |c| cli_help(c).boxed())
            .partial("TestProcessCommandLineArgs"),
        Scenario::new("lifecycle/cli-commands", |c| cli_commands(c).boxed())
            .full("TestProcessCommandLineArgs"),
        Scenario::new("lifecycle/cli-flags-override-config", |c| {
            flags_override_config(c).boxed()
        })
        .partial("TestProcessCommandLineArgs")
        .partial("TestSetLogger"),
    ]
}

fn signal_scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("lifecycle/signal-cmd-unknown", |c| {
            signal_cmd_unknown(c).boxed()
        })
        .full("TestProcessSignalInvalidCommand"),
        Scenario::new("lifecycle/signal-cmd-invalid-pid", |c| {
            signal_cmd_invalid_pid(c).boxed()
        })
        .full("TestProcessSignalInvalidPid"),
        Scenario::new("lifecycle/signal-cmd-bad-parameters", |c| {
            signal_cmd_bad_parameters(c).boxed()
        })
        .partial("TestProcessSignalInvalidPid"),
        Scenario::new("lifecycle/signal-cmd-quit", |c| signal_cmd_quit(c).boxed())
            .full("TestProcessSignalQuitProcess"),
        Scenario::new("lifecycle/signal-cmd-term", |c| signal_cmd_term(c).boxed())
            .full("TestProcessSignalTermProcess"),
        Scenario::new("lifecycle/signal-cmd-stop", |c| signal_cmd_stop(c).boxed())
            .partial("TestProcessSignalResolveSingleProcess"),
        Scenario::new("lifecycle/signal-cmd-reopen", |c| {
            signal_cmd_reopen(c).boxed()
        })
        .full("TestProcessSignalReopenProcess"),
        Scenario::new("lifecycle/signal-cmd-reload", |c| {
            signal_cmd_reload(c).boxed()
        })
        .full("TestProcessSignalReloadProcess"),
        Scenario::new("lifecycle/signal-cmd-ldm", |c| signal_cmd_ldm(c).boxed())
            .full("TestProcessSignalLameDuckMode"),
        Scenario::new("lifecycle/signal-cmd-pid-file", |c| {
            signal_cmd_pid_file(c).boxed()
        })
        .partial("TestProcessSignalReloadProcess")
        .partial("TestPidFile"),
        Scenario::new("lifecycle/sighup-reload-twice", |c| {
            sighup_reload_twice(c).boxed()
        })
        .full("TestSignalToReloadConfig"),
        Scenario::new("lifecycle/sigusr1-reopen-log-file", |c| {
            sigusr1_reopen(c).boxed()
        })
        .full("TestSignalToReOpenLogFile"),
        Scenario::new("lifecycle/sigusr1-reopen-variants", |c| {
            sigusr1_reopen_variants(c).boxed()
        })
        .full("TestReOpenLogFile"),
        Scenario::new("lifecycle/sigterm-sigint-exit", |c| {
            sigterm_sigint_exit(c).boxed()
        })
        .partial("TestProcessSignalTermDuringLameDuckMode"),
        Scenario::new("lifecycle/sigterm-during-ldm", |c| {
            sigterm_during_ldm(c).boxed()
        })
        .full("TestProcessSignalTermDuringLameDuckMode"),
        Scenario::new("lifecycle/ldm-no-clients", |c| ldm_no_clients(c).boxed())
            .partial("TestLameDuckMode"),
        Scenario::new("lifecycle/ldm-clients-info-and-close", |c| {
            ldm_clients(c).boxed()
        })
        .partial("TestLameDuckMode")
        .partial("TestLameDuckModeInfo"),
        Scenario::new("lifecycle/ldm-options-validation", |c| {
            ldm_validation(c).boxed()
        })
        .full("TestLameDuckOptionsValidation"),
    ]
}

fn server_scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("lifecycle/startup-and-shutdown", |c| {
            startup_and_shutdown(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestStartupAndShutdown")
        .full("TestRun"),
        Scenario::new("lifecycle/max-connections", |c| max_connections(c).boxed())
            .full("server/server_test.go:TestMaxConnections"),
        Scenario::new("lifecycle/max-subscriptions", |c| {
            max_subscriptions(c).boxed()
        })
        .full("server/server_test.go:TestMaxSubscriptions"),
        Scenario::new("lifecycle/random-ports", |c| random_ports(c).boxed())
            .needs(Need::Monitoring)
            .full("TestRandomPorts")
            .full("TestResolveRandomPort"),
        Scenario::new("lifecycle/no-monitoring-port", |c| {
            no_monitoring_port(c).boxed()
        })
        .full("TestNilMonitoringPort"),
        Scenario::new("lifecycle/server-name-defaults-to-id", |c| {
            server_name_default(c).boxed()
        })
        .full("TestInfoServerNameDefaultsToPK"),
        Scenario::new("lifecycle/server-name-settable", |c| {
            server_name_settable(c).boxed()
        })
        .full("TestInfoServerNameIsSettable"),
        Scenario::new("lifecycle/client-advertise-info", |c| {
            client_advertise_info(c).boxed()
        })
        .partial("TestClientAdvertiseConnectURL"),
        Scenario::new("lifecycle/client-advertise-error", |c| {
            client_advertise_error(c).boxed()
        })
        .full("TestClientAdvertiseErrorOnStartup"),
        Scenario::new("lifecycle/start-failure-bad-host", |c| {
            start_failure_bad_host(c).boxed()
        })
        .full("TestNoDeadlockOnStartFailure"),
        Scenario::new("lifecycle/logs-configuration-file", |c| {
            logs_config_file(c).boxed()
        })
        .full("TestServerLogsConfigurationFile"),
        Scenario::new("lifecycle/profiler-port", |c| profiler_port(c).boxed())
            .full("TestStartProfiler")
            .partial("TestProfilingNoTimeout"),
        Scenario::new("lifecycle/pid-file", |c| pid_file(c).boxed()).full("TestPidFile"),
        Scenario::new("lifecycle/ports-file", |c| ports_file(c).boxed())
            .needs(Need::Monitoring)
            .partial("TestPortsFile"),
        Scenario::new("lifecycle/ports-file-reload", |c| {
            ports_file_reload(c).boxed()
        })
        .full("TestPortsFileReload"),
    ]
}

fn log_scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("lifecycle/log-format-stderr", |c| {
            log_format_stderr(c).boxed()
        })
        .full("TestStdLogger")
        .full("TestStdLoggerNotice"),
        Scenario::new("lifecycle/log-debug-flag", |c| log_debug_flag(c).boxed())
            .full("TestStdLoggerDebug")
            .full("TestStdLoggerTraceWithOutDebug"),
        Scenario::new("lifecycle/log-trace-flag", |c| log_trace_flag(c).boxed())
            .full("TestStdLoggerTrace")
            .full("TestStdLoggerDebugWithOutDebug"),
        Scenario::new("lifecycle/log-debug-trace-flag", |c| {
            log_debug_trace_flag(c).boxed()
        })
        .full("TestStdLoggerWithDebugTraceAndTime")
        .partial("TestSetLogger"),
        Scenario::new("lifecycle/log-file-format", |c| log_file_format(c).boxed())
            .partial("TestFileLogger"),
        Scenario::new("lifecycle/log-size-limit-rotation", |c| {
            log_size_limit(c).boxed()
        })
        .partial("TestFileLoggerSizeLimit"),
        Scenario::new("lifecycle/log-size-limit-reopen", |c| {
            log_size_limit_reopen(c).boxed()
        })
        .full("TestFileLoggerSizeLimitAndReopen"),
        Scenario::new("lifecycle/trace-connect-redacts-password", |c| {
            trace_redacts_password(c).boxed()
        })
        .full("TestNoPasswordsFromConnectTrace")
        .partial("TestRemovePassFromTrace"),
    ]
}

fn syslog_scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("lifecycle/remote-syslog-udp", |c| syslog_udp(c).boxed())
            .full("TestRemoteSysLogger")
            .full("TestRemoteSysLoggerNotice")
            .full("TestRemoteSysLoggerDebug")
            .full("TestRemoteSysLoggerTrace")
            .full("TestSysLoggerTag")
            .partial("TestSysLoggerTagGen")
            .full("TestGetNetworkAndAddrUDP"),
        Scenario::new("lifecycle/remote-syslog-levels-disabled", |c| {
            syslog_disabled(c).boxed()
        })
        .full("TestRemoteSysLoggerDebugDisabled")
        .full("TestRemoteSysLoggerTraceDisabled"),
        Scenario::new("lifecycle/remote-syslog-tcp", |c| syslog_tcp(c).boxed())
            .full("TestGetNetworkAndAddrTCP"),
        Scenario::new("lifecycle/remote-syslog-unix", |c| syslog_unix(c).boxed())
            .full("TestGetNetworkAndAddrUnix"),
    ]
}

// ---------------------------------------------------------------- helpers

/// `[pid] ` and the optional `YYYY/MM/DD hh:mm:ss.uuuuuu ` before a label.
static PREFIX: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
    Regex::new(r"^\[(\d+)\] (\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} )?").expect("regex")
});

/// A log line without its pid and time: `[INF] message`.
fn strip(line: &str) -> String {
    PREFIX.replace(line, "").into_owned()
}

/// Lines of `text` with `needle`, pid and time stripped.
fn with(text: &str, needle: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains(needle))
        .map(strip)
        .collect()
}

/// The `[INF]` lines of the start-up, up to "Server is ready", pid and time stripped.
fn startup_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in text.lines() {
        let l = strip(l);
        if l.starts_with("[INF]") {
            out.push(l.clone());
        }
        if l.contains("Server is ready") {
            break;
        }
    }
    out
}

fn has_label(text: &str, label: &str) -> bool {
    text.lines().any(|l| strip(l).starts_with(label))
}

/// Replaces a folder path with `<dir>` so observations do not depend on it.
fn undir(text: &str, dir: &Path) -> String {
    text.replace(&*dir.to_string_lossy(), "<dir>")
}

/// Waits until the file exists and contains `needle`; returns its text.
async fn wait_file(path: &Path, needle: &str) -> Result<String> {
    let path = path.to_path_buf();
    let needle = needle.to_string();
    kit::eventually(WAIT, || {
        let path = path.clone();
        let needle = needle.clone();
        async move {
            Ok(std::fs::read_to_string(&path)
                .ok()
                .filter(|t| t.contains(&needle)))
        }
    })
    .await
    .with_context(|| format!("{} never contained {needle:?}", path.display()))
}

/// Waits until the server's captured output has `n` lines with `needle`.
async fn wait_count(s: &Server, needle: &str, n: usize) -> Result<()> {
    kit::eventually(WAIT, || async {
        Ok((with(&s.logs(), needle).len() >= n).then_some(()))
    })
    .await
    .with_context(|| format!("fewer than {n} lines with {needle:?}:\n{}", s.logs()))
}

fn exit_text(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("code {c}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "unknown".into(),
    }
}

fn pid_of(s: &Server) -> Result<String> {
    Ok(s.pid().context("server not running")?.to_string())
}

/// The basename of the server process's argv[0].
fn argv0_base(pid: u32) -> Result<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))?;
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = String::from_utf8_lossy(argv0).into_owned();
    Ok(argv0.rsplit('/').next().unwrap_or_default().to_string())
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

// ---------------------------------------------------------------- command line

async fn cli_version(ctx: Ctx) -> Result<()> {
    for flag in ["-v", "--version"] {
        let out = ctx.run_binary(&[flag]).await?;
        check_eq!(out.code, Some(0));
        check_eq!(out.stdout.as_str(), "nats-server: v2.9.10\n");
        ctx.observe(flag, &out.stdout);
    }
    Ok(())
}

async fn cli_help(ctx: Ctx) -> Result<()> {
    for flag in ["-h", "--help"] {
        let out = ctx.run_binary(&[flag]).await?;
        check_eq!(out.code, Some(0));
        check_eq!(out.stdout.contains("Usage: nats-server [options]"), true);
        check_eq!(out.stdout.contains("-sl,--signal <signal>[=<pid>]"), true);
        ctx.observe(flag, &out.stdout);
    }
    // An undefined flag prints the usage too.
    let out = ctx.run_binary(&["--no_such_flag"]).await?;
    check_eq!(
        out.stderr
            .contains("flag provided but not defined: -no_such_flag"),
        true
    );
    check_eq!(out.stdout.contains("Usage: nats-server [options]"), true);
    ctx.observe("undefined flag code", format!("{:?}", out.code));
    ctx.observe("undefined flag stderr", &out.stderr);
    Ok(())
}

async fn cli_commands(ctx: Ctx) -> Result<()> {
    // Flags without a command: the server starts with them.
    let s = ctx
        .server(ServerSpec::new().args(["-a", "127.0.0.1", "--name", "cmdline"]))
        .await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["server_name"], Value::from("cmdline"));
    let out = ctx.run_binary(&["version"]).await?;
    check_eq!(out.code, Some(0));
    check_eq!(out.stdout.as_str(), "nats-server: v2.9.10\n");
    ctx.observe("version", &out.stdout);
    let out = ctx.run_binary(&["help"]).await?;
    check_eq!(out.code, Some(0));
    check_eq!(out.stdout.contains("Usage: nats-server [options]"), true);
    ctx.observe("help", &out.stdout);
    let out = ctx.run_binary(&["foo", "-p", "9090"]).await?;
    check_eq!(out.code, Some(1));
    check_eq!(
        out.stderr.trim(),
        "nats-server: unrecognized command: \"foo\""
    );
    ctx.observe("unknown command", &out.stderr);
    Ok(())
}

async fn flags_override_config(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .conf("server_name: from_config\ndebug: false\ntrace: false\n")
                .args(["--name", "from_flag", "-DV"]),
        )
        .await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    c.send("SUB foo 1\r\n").await?;
    c.flush().await?;
    let info = ctx.raw(&s).await?.1;
    check_eq!(info["server_name"], Value::from("from_flag"));
    ctx.observe("server_name", info["server_name"].to_string());
    wait_count(&s, "<<- [SUB foo", 1).await?;
    let logs = s.logs();
    check_eq!(has_label(&logs, "[DBG]"), true);
    check_eq!(has_label(&logs, "[TRC]"), true);
    ctx.observe("sub trace", with(&logs, "<<- [SUB foo").join("\n"));
    Ok(())
}

// ---------------------------------------------------------------- --signal

async fn signal_cmd_unknown(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let pid = pid_of(&s)?;
    let out = ctx
        .run_binary(&["--signal", &format!("invalid={pid}")])
        .await?;
    check_eq!(out.code, Some(1));
    check_eq!(out.stderr.trim(), "nats-server: unknown signal \"invalid\"");
    ctx.observe("stderr", &out.stderr);
    // The server is untouched.
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    c.flush().await?;
    Ok(())
}

async fn signal_cmd_invalid_pid(ctx: Ctx) -> Result<()> {
    for flag in ["--signal", "-sl"] {
        let out = ctx.run_binary(&[flag, "stop=abc"]).await?;
        check_eq!(out.code, Some(1));
        check_eq!(out.stderr.trim(), "nats-server: invalid pid: abc");
        ctx.observe(flag, &out.stderr);
    }
    Ok(())
}

async fn signal_cmd_bad_parameters(ctx: Ctx) -> Result<()> {
    let out = ctx.run_binary(&["--signal", "stop=1=2"]).await?;
    check_eq!(out.code, Some(1));
    check_eq!(
        out.stderr.trim(),
        "nats-server: invalid signal parameters: [2]"
    );
    ctx.observe("too many =", &out.stderr);
    // A pid above the kernel's maximum names no process.
    let out = ctx.run_binary(&["--signal", "reopen=2147483647"]).await?;
    check_eq!(out.code, Some(1));
    check_eq!(out.stderr.trim(), "nats-server: no such process");
    ctx.observe("no such process", &out.stderr);
    Ok(())
}

/// Starts a server (with `-D` so signal traps are logged), runs
/// `--signal <cmd>=<pid>` and returns the server.
async fn signalled(ctx: &Ctx, spec: ServerSpec, cmd: &str) -> Result<Server> {
    let s = ctx.server(spec).await?;
    let pid = pid_of(&s)?;
    let out = ctx
        .run_binary(&["--signal", &format!("{cmd}={pid}")])
        .await?;
    check_eq!(out.code, Some(0));
    check_eq!(out.stdout.as_str(), "");
    check_eq!(out.stderr.as_str(), "");
    Ok(s)
}

async fn signal_cmd_quit(ctx: Ctx) -> Result<()> {
    let mut s = signalled(&ctx, ServerSpec::new().args(["-D"]), "quit").await?;
    let st = s.wait_exit(WAIT).await?;
    check_eq!(exit_text(st), "code 0");
    let logs = s.logs();
    ctx.observe("exit", exit_text(st));
    ctx.observe("trap", with(&logs, "Trapped").join("\n"));
    check_eq!(
        with(&logs, "Trapped"),
        vec!["[DBG] Trapped \"interrupt\" signal"]
    );
    ctx.observe("shutdown", with(&logs, "[INF] Server Exiting..").join("\n"));
    Ok(())
}

async fn signal_cmd_term(ctx: Ctx) -> Result<()> {
    let mut s = signalled(&ctx, ServerSpec::new().args(["-D"]), "term").await?;
    let st = s.wait_exit(WAIT).await?;
    check_eq!(exit_text(st), "code 1");
    let logs = s.logs();
    check_eq!(
        with(&logs, "Trapped"),
        vec!["[DBG] Trapped \"terminated\" signal"]
    );
    ctx.observe("exit", exit_text(st));
    ctx.observe("trap", with(&logs, "Trapped").join("\n"));
    Ok(())
}

async fn signal_cmd_stop(ctx: Ctx) -> Result<()> {
    let mut s = signalled(&ctx, ServerSpec::new(), "stop").await?;
    let st = s.wait_exit(WAIT).await?;
    // stop is SIGKILL: no shutdown is logged.
    check_eq!(exit_text(st), "signal 9");
    check_eq!(with(&s.logs(), "Initiating Shutdown").len(), 0);
    ctx.observe("exit", exit_text(st));
    Ok(())
}

async fn signal_cmd_reopen(ctx: Ctx) -> Result<()> {
    let s = signalled(
        &ctx,
        ServerSpec::new()
            .conf("log_file: \"{{dir}}/nats.log\"\n")
            .ready(Ready::ClientPort),
        "reopen",
    )
    .await?;
    let text = wait_file(&s.dir().join("nats.log"), "File log re-opened").await?;
    ctx.observe("reopened", with(&text, "re-open").join("\n"));
    Ok(())
}

async fn signal_cmd_reload(ctx: Ctx) -> Result<()> {
    let s = signalled(&ctx, ServerSpec::new().args(["-D"]), "reload").await?;
    let line = s
        .wait_for_log("Reloaded server configuration", WAIT)
        .await?;
    ctx.observe("trap", with(&s.logs(), "Trapped").join("\n"));
    ctx.observe("reloaded", strip(&line));
    check_eq!(
        with(&s.logs(), "Trapped"),
        vec!["[DBG] Trapped \"hangup\" signal"]
    );
    Ok(())
}

async fn signal_cmd_ldm(ctx: Ctx) -> Result<()> {
    let mut s = signalled(&ctx, ServerSpec::new(), "ldm").await?;
    let line = s.wait_for_log("Entering lame duck mode", WAIT).await?;
    ctx.observe("ldm", strip(&line));
    // No clients: the server shuts down at once, cleanly.
    let st = s.wait_exit(WAIT).await?;
    check_eq!(exit_text(st), "code 0");
    ctx.observe("exit", exit_text(st));
    Ok(())
}

async fn signal_cmd_pid_file(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("pid_file: \"{{dir}}/nats.pid\"\n"))
        .await?;
    let pid_path = s.dir().join("nats.pid");
    let pid = std::fs::read_to_string(&pid_path)?;
    check_eq!(pid, pid_of(&s)?);
    let out = ctx
        .run_binary(&["--signal", &format!("reload={}", path_str(&pid_path))])
        .await?;
    check_eq!(out.code, Some(0));
    let line = s
        .wait_for_log("Reloaded server configuration", WAIT)
        .await?;
    ctx.observe("reloaded", strip(&line));
    Ok(())
}

// ---------------------------------------------------------------- signals

async fn sighup_reload_twice(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    for i in 1..=2 {
        s.signal(Signal::SIGHUP)?;
        wait_count(&s, "Reloaded server configuration", i).await?;
    }
    // A changed config is applied by the next SIGHUP.
    s.rewrite_conf("host: 127.0.0.1\nport: {{client_port}}\nmax_payload: 512\n")?;
    s.signal(Signal::SIGHUP)?;
    wait_count(&s, "Reloaded server configuration", 3).await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["max_payload"], Value::from(512));
    let logs = s.logs();
    ctx.observe("reloads", with(&logs, "Reloaded").join("\n"));
    Ok(())
}

async fn sigusr1_reopen(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .conf("log_file: \"{{dir}}/test.log\"\n")
                .ready(Ready::ClientPort),
        )
        .await?;
    let log = s.dir().join("test.log");
    wait_file(&log, "Server is ready").await?;
    std::fs::rename(&log, s.dir().join("test.log.bak"))?;
    s.signal(Signal::SIGUSR1)?;
    let text = wait_file(&log, "File log re-opened").await?;
    // The renamed file has the start-up, the new one only what followed.
    let old = std::fs::read_to_string(s.dir().join("test.log.bak"))?;
    check_eq!(old.contains("Server is ready"), true);
    check_eq!(text.contains("Server is ready"), false);
    ctx.observe(
        "new file",
        text.lines().map(strip).collect::<Vec<_>>().join("\n"),
    );
    Ok(())
}

async fn sigusr1_reopen_variants(ctx: Ctx) -> Result<()> {
    // Logging to stderr: nothing to re-open.
    let s = ctx.default_server().await?;
    s.signal(Signal::SIGUSR1)?;
    let line = s
        .wait_for_log("File log re-open ignored, not a file logger", WAIT)
        .await?;
    ctx.observe("stderr logger", strip(&line));
    // Logging to a file: re-opened after a rename, and later lines are appended.
    let s = ctx
        .server(
            ServerSpec::new()
                .conf("log_file: \"{{dir}}/test.log\"\ntrace: true\n")
                .ready(Ready::ClientPort),
        )
        .await?;
    let log = s.dir().join("test.log");
    wait_file(&log, "Server is ready").await?;
    std::fs::rename(&log, s.dir().join("test.log.bak"))?;
    s.signal(Signal::SIGUSR1)?;
    wait_file(&log, "File log re-opened").await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    c.send("SUB after.reopen 1\r\n").await?;
    c.flush().await?;
    let text = wait_file(&log, "<<- [SUB after.reopen").await?;
    ctx.observe("appended", with(&text, "after.reopen").join("\n"));
    Ok(())
}

async fn sigterm_sigint_exit(ctx: Ctx) -> Result<()> {
    let mut s = ctx.default_server().await?;
    s.signal(Signal::SIGTERM)?;
    let st = s.wait_exit(WAIT).await?;
    check_eq!(exit_text(st), "code 1");
    ctx.observe("SIGTERM exit", exit_text(st));
    ctx.observe(
        "SIGTERM log",
        [
            with(&s.logs(), "Initiating Shutdown"),
            with(&s.logs(), "Exiting"),
        ]
        .concat()
        .join("\n"),
    );
    let mut s = ctx.default_server().await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    s.signal(Signal::SIGINT)?;
    let st = s.wait_exit(WAIT).await?;
    check_eq!(exit_text(st), "code 0");
    ctx.observe("SIGINT exit", exit_text(st));
    // The client's connection was closed by the shutdown.
    c.expect_closed(WAIT).await?;
    Ok(())
}

/// A config with a lame duck grace period of `grace`; the duration must be
/// at least 30s, and clients are closed right after the grace period.
fn ldm_conf(grace: &str) -> String {
    format!("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"{grace}\"\n")
}

async fn sigterm_during_ldm(ctx: Ctx) -> Result<()> {
    let mut s = ctx
        .server(ServerSpec::new().conf(&ldm_conf("1s")).args(["-D"]))
        .await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    s.signal(Signal::SIGUSR2)?;
    s.wait_for_log("Entering lame duck mode", WAIT).await?;
    // SIGTERM while in lame duck mode does not shut the server down.
    s.signal(Signal::SIGTERM)?;
    s.wait_for_log("Trapped \"terminated\" signal", WAIT)
        .await?;
    // The client is still served until the grace period ends...
    let info = c.expect_info().await?;
    check_eq!(info["ldm"], Value::from(true));
    c.flush().await?;
    c.expect_closed(WAIT).await?;
    // ... and the lame duck shutdown ends cleanly (a SIGTERM exit is code 1).
    let st = s.wait_exit(WAIT).await?;
    check_eq!(exit_text(st), "code 0");
    ctx.observe("exit", exit_text(st));
    let logs = s.logs();
    ctx.observe(
        "log",
        [
            with(&logs, "lame duck"),
            with(&logs, "Trapped"),
            with(&logs, "Closing existing clients"),
        ]
        .concat()
        .join("\n"),
    );
    Ok(())
}

async fn ldm_no_clients(ctx: Ctx) -> Result<()> {
    let mut s = ctx.server(ServerSpec::new().conf(&ldm_conf("5s"))).await?;
    s.signal(Signal::SIGUSR2)?;
    // Without clients the grace period is not waited for.
    let st = s.wait_exit(Duration::from_secs(3)).await?;
    check_eq!(exit_text(st), "code 0");
    let logs = s.logs();
    check_eq!(with(&logs, "Closing existing clients").len(), 0);
    ctx.observe("exit", exit_text(st));
    ctx.observe(
        "log",
        [
            with(&logs, "lame duck"),
            with(&logs, "Initiating Shutdown"),
            with(&logs, "Exiting"),
        ]
        .concat()
        .join("\n"),
    );
    Ok(())
}

async fn ldm_clients(ctx: Ctx) -> Result<()> {
    let mut s = ctx
        .server(ServerSpec::new().conf(&ldm_conf("500ms")))
        .await?;
    let mut a = ctx.raw_connected(&s, CONNECT).await?;
    let mut b = ctx.raw_connected(&s, CONNECT).await?;
    b.send("SUB foo 1\r\n").await?;
    b.flush().await?;
    s.signal(Signal::SIGUSR2)?;
    // Each client learns that the server is in lame duck mode.
    let info_a = a.expect_info().await?;
    let info_b = b.expect_info().await?;
    check_eq!(info_a["ldm"], Value::from(true));
    check_eq!(info_b["ldm"], Value::from(true));
    ctx.observe_json("ldm info", &info_a);
    // New clients are refused.
    check_eq!(RawClient::connect(&s.addr()).await.is_err(), true);
    // Existing ones still work during the grace period.
    a.send("PUB foo 2\r\nhi\r\n").await?;
    a.flush().await?;
    let m = b.read_msgs(1).await?;
    check_eq!(m[0].payload, b"hi".to_vec());
    // Then they are closed, and the server exits.
    a.expect_closed(WAIT).await?;
    b.expect_closed(WAIT).await?;
    let st = s.wait_exit(WAIT).await?;
    check_eq!(exit_text(st), "code 0");
    let logs = s.logs();
    ctx.observe(
        "log",
        [
            with(&logs, "lame duck"),
            with(&logs, "Closing existing clients"),
            with(&logs, "Exiting"),
        ]
        .concat()
        .join("\n"),
    );
    Ok(())
}

async fn ldm_validation(ctx: Ctx) -> Result<()> {
    let conf = ctx.write_file(
        "ldm.conf",
        "host: 127.0.0.1\nport: -1\nlame_duck_duration: \"40s\"\nlame_duck_grace_period: \"50s\"\n",
    )?;
    let conf = path_str(&conf);
    let out = ctx.run_binary(&["-c", &conf]).await?;
    check_eq!(out.code, Some(1));
    check_eq!(out.stderr.contains("should be strictly lower"), true);
    ctx.observe("stderr", out.stderr.replace(&conf, "<conf>"));
    // Also when both are equal.
    let conf = ctx.write_file(
        "ldm-eq.conf",
        "host: 127.0.0.1\nport: -1\nlame_duck_duration: \"40s\"\nlame_duck_grace_period: \"40s\"\n",
    )?;
    let conf = path_str(&conf);
    let out = ctx.run_binary(&["-c", &conf]).await?;
    check_eq!(out.code, Some(1));
    check_eq!(out.stderr.contains("should be strictly lower"), true);
    ctx.observe("stderr equal", out.stderr.replace(&conf, "<conf>"));
    Ok(())
}

// ---------------------------------------------------------------- server

async fn startup_and_shutdown(ctx: Ctx) -> Result<()> {
    let mut s = ctx
        .server(ServerSpec::new().conf("no_sys_acc: true\nhttp_port: {{http_port}}\n"))
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    for field in ["routes", "remotes", "leafnodes", "subscriptions"] {
        check_eq!(varz[field], Value::from(0));
    }
    check_eq!(varz["connections"], Value::from(0));
    let mut obs = serde_json::Map::new();
    for field in [
        "routes",
        "remotes",
        "leafnodes",
        "subscriptions",
        "connections",
    ] {
        obs.insert(field.into(), varz[field].clone());
    }
    ctx.observe_json("varz counts", &Value::Object(obs));
    ctx.observe(
        "startup",
        undir(&startup_lines(&s.logs()).join("\n"), s.dir()),
    );
    s.stop().await?;
    ctx.observe(
        "shutdown",
        [
            with(&s.logs(), "Initiating Shutdown"),
            with(&s.logs(), "Exiting"),
        ]
        .concat()
        .join("\n"),
    );
    Ok(())
}

async fn max_connections(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_connections: 1\n"))
        .await?;
    let mut first = ctx.raw_connected(&s, CONNECT).await?;
    let mut second = RawClient::connect(&s.addr()).await?;
    let rest = second.expect_closed(WAIT).await?;
    let err: Vec<&str> = rest.lines().filter(|l| l.starts_with("-ERR")).collect();
    check_eq!(err, vec!["-ERR 'maximum connections exceeded'"]);
    ctx.observe("second", err.join("\n"));
    first.flush().await?;
    // Once the first leaves, a new client is accepted.
    drop(first);
    kit::eventually(WAIT, || async {
        let Ok((mut c, _)) = RawClient::connect_info(&s.addr()).await else {
            return Ok(None);
        };
        c.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await?;
        Ok(c.expect_pong().await.ok())
    })
    .await?;
    Ok(())
}

async fn max_subscriptions(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_subscriptions: 10\n"))
        .await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    for i in 0..10 {
        c.send(&format!("SUB foo.{i} {i}\r\n")).await?;
    }
    c.flush().await?;
    c.send("SUB foo.22 22\r\n").await?;
    let err = c.expect_err().await?;
    check_eq!(err, "maximum subscriptions exceeded");
    ctx.observe("err", &err);
    // The connection stays up.
    c.flush().await?;
    Ok(())
}

async fn random_ports(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .own_listen()
                .conf("host: 127.0.0.1\nport: -1\nhttp_port: -1\n"),
        )
        .await?;
    let logs = s.logs();
    let port_in = |re: &str| -> Result<u16> {
        let re = Regex::new(re)?;
        let caps = re
            .captures(&logs)
            .ok_or_else(|| anyhow!("no {re} in\n{logs}"))?;
        Ok(caps[1].parse()?)
    };
    let client = port_in(r"Listening for client connections on 127\.0\.0\.1:(\d+)")?;
    let http = port_in(r"Starting http monitor on 127\.0\.0\.1:(\d+)")?;
    check_eq!(client != 4222 && client != 0, true);
    check_eq!(http != 8222 && http != 0, true);
    let (_c, info) = RawClient::connect_info(&format!("127.0.0.1:{client}")).await?;
    check_eq!(info["port"], Value::from(client));
    let body = reqwest::get(format!("http://127.0.0.1:{http}/varz"))
        .await?
        .json::<Value>()
        .await?;
    check_eq!(body["port"], Value::from(client));
    ctx.observe(
        "listen lines",
        [
            with(&logs, "Listening for client"),
            with(&logs, "http monitor"),
        ]
        .concat()
        .join("\n"),
    );
    Ok(())
}

async fn no_monitoring_port(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("http_port: 0\nhttps_port: 0\n"))
        .await?;
    let logs = s.logs();
    check_eq!(with(&logs, "monitor").len(), 0);
    ctx.observe("startup", undir(&startup_lines(&logs).join("\n"), s.dir()));
    Ok(())
}

async fn server_name_default(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("client_advertise: \"nats.example.com\"\n"))
        .await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["server_name"], info["server_id"]);
    ctx.observe_json("name", &info["server_name"]);
    Ok(())
}

async fn server_name_settable(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new().conf(
                "client_advertise: \"nats.example.com\"\nserver_name: \"test_server_name\"\n",
            ),
        )
        .await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["server_name"], Value::from("test_server_name"));
    ctx.observe_json("name", &info["server_name"]);
    let line = s.wait_for_log("Name:", WAIT).await?;
    ctx.observe("log", strip(&line));
    Ok(())
}

async fn client_advertise_info(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("client_advertise: \"nats.example.com:7777\"\n"))
        .await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["host"], Value::from("nats.example.com"));
    check_eq!(info["port"], Value::from(7777));
    ctx.observe("host:port", format!("{}:{}", info["host"], info["port"]));
    // Without a port, the listen port is advertised.
    let s = ctx
        .server(ServerSpec::new().conf("client_advertise: \"nats.example.com\"\n"))
        .await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["host"], Value::from("nats.example.com"));
    check_eq!(info["port"], Value::from(s.ports().client));
    ctx.observe("host only", info["host"].to_string());
    Ok(())
}

async fn client_advertise_error(ctx: Ctx) -> Result<()> {
    let conf = ctx.write_file(
        "adv.conf",
        "host: 127.0.0.1\nport: -1\nclient_advertise: \"addr:::123\"\n",
    )?;
    let out = ctx.run_binary(&["-c", &path_str(&conf)]).await?;
    check_eq!(out.code, Some(1));
    let ftl = with(&out.stderr, "[FTL]");
    check_eq!(ftl.len(), 1);
    check_eq!(
        ftl[0].starts_with(
            "[FTL] Error setting server INFO with ClientAdvertise value of addr:::123"
        ),
        true
    );
    ctx.observe("fatal", &ftl[0]);
    Ok(())
}

async fn start_failure_bad_host(ctx: Ctx) -> Result<()> {
    let conf = ctx.write_file("bad-host.conf", "host: \"x.x.x.x\"\nport: -1\n")?;
    let started = std::time::Instant::now();
    let out = ctx.run_binary(&["-c", &path_str(&conf)]).await?;
    check_eq!(out.code, Some(1));
    check_eq!(started.elapsed() < Duration::from_secs(8), true);
    let ftl = with(&out.stderr, "[FTL]");
    check_eq!(ftl.len(), 1);
    let head = ftl[0].split(", ").next().unwrap_or_default().to_string();
    check_eq!(head, "[FTL] Error listening on port: x.x.x.x:0");
    ctx.observe("fatal", head);
    check_eq!(with(&out.stderr, "Server is ready").len(), 0);
    Ok(())
}

async fn logs_config_file(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .conf("log_file: \"{{dir}}/server.log\"\n")
                .ready(Ready::ClientPort),
        )
        .await?;
    let conf = s.dir().join("server.conf");
    let needle = format!("Using configuration file: {}", path_str(&conf));
    let text = wait_file(&s.dir().join("server.log"), &needle).await?;
    ctx.observe(
        "line",
        undir(&with(&text, "Using configuration file").join("\n"), s.dir()),
    );
    Ok(())
}

async fn profiler_port(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("prof_port: -1\n"))
        .await?;
    let line = s.wait_for_log("profiling port:", WAIT).await?;
    let port: u16 = line
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .trim()
        .parse()
        .with_context(|| format!("no port in {line:?}"))?;
    check_eq!(port > 0, true);
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/debug/pprof/")).await?;
    check_eq!(resp.status().as_u16(), 200);
    ctx.observe("line", strip(&line).replace(&port.to_string(), "<port>"));
    ctx.observe("pprof status", resp.status().as_u16().to_string());
    // A CPU profile: the request lasts as long as the profile, without a
    // server-side timeout cutting it.
    let resp = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/debug/pprof/profile?seconds=1"
        ))
        .timeout(WAIT)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.bytes().await?;
    ctx.observe(
        "cpu profile",
        format!(
            "status={status} type={content_type} empty={}",
            body.is_empty()
        ),
    );
    check_eq!(status, 200);
    check_eq!(body.is_empty(), false);
    Ok(())
}

async fn pid_file(ctx: Ctx) -> Result<()> {
    let mut s = ctx
        .server(ServerSpec::new().conf("pid_file: \"{{dir}}/nats-server:pid\"\n"))
        .await?;
    let pid = pid_of(&s)?;
    let path = s.dir().join("nats-server:pid");
    check_eq!(std::fs::read_to_string(&path)?, pid);
    s.stop().await?;
    // The file stays after shutdown.
    check_eq!(std::fs::read_to_string(&path)?, pid);
    // What the file holds, the pid masked: no newline, nothing else.
    let content = std::fs::read_to_string(&path)?;
    ctx.observe("pid_file", format!("{:?}", content.replace(&pid, "<pid>")));
    // The -P flag does the same.
    let s = ctx
        .server(ServerSpec::new().args(["-P", "flag.pid"]))
        .await?;
    let flag_pid = pid_of(&s)?;
    let content = std::fs::read_to_string(s.dir().join("flag.pid"))?;
    check_eq!(content, flag_pid);
    ctx.observe("-P", format!("{:?}", content.replace(&flag_pid, "<pid>")));
    Ok(())
}

/// The `<exe>_<pid>.ports` file of a server in `dir`, once it exists.
async fn ports_file_in(dir: &Path, s: &Server) -> Result<(PathBuf, Value)> {
    let pid = s.pid().context("not running")?;
    let name = format!("{}_{pid}.ports", argv0_base(pid)?);
    let path = dir.join(&name);
    let text = wait_file(&path, "}").await?;
    let json = serde_json::from_str(&text).with_context(|| format!("ports file: {text}"))?;
    Ok((path, json))
}

async fn ports_file(ctx: Ctx) -> Result<()> {
    let dir = ctx.new_dir("ports")?;
    let mut s = ctx
        .server(ServerSpec::new().conf(&format!(
            "ports_file_dir: \"{}\"\nhttp_port: {{{{http_port}}}}\nprof_port: -1\n",
            path_str(&dir)
        )))
        .await?;
    let (path, ports) = ports_file_in(&dir, &s).await?;
    check_eq!(
        ports["nats"],
        serde_json::json!([format!("nats://127.0.0.1:{}", s.ports().client)])
    );
    check_eq!(ports["monitoring"], serde_json::json!([s.http_base()?]));
    let profile = ports["profile"][0].as_str().unwrap_or_default();
    check_eq!(profile.starts_with("http://"), true);
    ctx.observe_json("ports", &ports);
    s.stop().await?;
    check_eq!(path.exists(), false);
    Ok(())
}

async fn ports_file_reload(ctx: Ctx) -> Result<()> {
    let base = ctx.new_dir("ports")?;
    let (a, b) = (base.join("A"), base.join("B"));
    std::fs::create_dir_all(&a)?;
    std::fs::create_dir_all(&b)?;
    let conf = |d: &Path| format!("ports_file_dir: \"{}\"\n", path_str(d));
    let s = ctx.server(ServerSpec::new().conf(&conf(&a))).await?;
    let (in_a, ports_a) = ports_file_in(&a, &s).await?;
    s.rewrite_conf(&format!(
        "host: 127.0.0.1\nport: {{{{client_port}}}}\n{}",
        conf(&b)
    ))?;
    s.signal(Signal::SIGHUP)?;
    let (_in_b, ports_b) = ports_file_in(&b, &s).await?;
    check_eq!(ports_a, ports_b);
    kit::eventually(WAIT, || async { Ok((!in_a.exists()).then_some(())) })
        .await
        .context("the ports file in A was not deleted")?;
    ctx.observe_json("ports", &ports_b);
    Ok(())
}

// ---------------------------------------------------------------- logging

/// Connects, subscribes and pings so that debug and trace lines are logged.
async fn some_traffic(ctx: &Ctx, s: &Server) -> Result<()> {
    let mut c = ctx.raw_connected(s, CONNECT).await?;
    c.send("SUB foo 1\r\nPUB foo 2\r\nhi\r\n").await?;
    c.read_msgs(1).await?;
    c.flush().await?;
    Ok(())
}

async fn log_format_stderr(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let pid = pid_of(&s)?;
    let timed = Regex::new(&format!(
        r"^\[{pid}\] \d{{4}}/\d{{2}}/\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}\.\d{{6}} \[INF\] Starting nats-server$"
    ))?;
    let first = s.logs().lines().next().unwrap_or_default().to_string();
    check_eq!(timed.is_match(&first), true);
    // Neither debug nor trace by default, even with client traffic to
    // trace (a trace line is written as the operation is processed, before
    // the PONG; the pause lets the output reach us).
    some_traffic(&ctx, &s).await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    c.send("SUB bar 1\r\nPUB bar 2\r\nok\r\nUNSUB 1\r\n")
        .await?;
    c.read_msgs(1).await?;
    c.flush().await?;
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = s.logs();
    check_eq!(has_label(&logs, "[TRC]"), false);
    check_eq!(has_label(&logs, "[DBG]"), false);
    let labels: std::collections::BTreeSet<String> = logs
        .lines()
        .map(|l| strip(l).split(' ').next().unwrap_or_default().to_string())
        .collect();
    ctx.observe("labels by default, after traffic", format!("{labels:?}"));
    // No time with logtime off, in the config or with -T=false.
    for spec in [
        ServerSpec::new().conf("logtime: false\n"),
        ServerSpec::new().args(["-T=false"]),
    ] {
        let s = ctx.server(spec).await?;
        let pid = pid_of(&s)?;
        let first = s.logs().lines().next().unwrap_or_default().to_string();
        check_eq!(first, format!("[{pid}] [INF] Starting nats-server"));
        let labels: Vec<String> = s
            .logs()
            .lines()
            .map(|l| l.split(' ').nth(1).unwrap_or_default().to_string())
            .collect();
        check_eq!(labels.iter().all(|l| l == "[INF]"), true);
        ctx.observe(
            "startup without time",
            startup_lines(&s.logs()).len().to_string(),
        );
    }
    ctx.observe("first line", strip(&first));
    Ok(())
}

async fn log_debug_flag(ctx: Ctx) -> Result<()> {
    for spec in [
        ServerSpec::new().args(["-D"]),
        ServerSpec::new().conf("debug: true\n"),
    ] {
        let s = ctx.server(spec).await?;
        some_traffic(&ctx, &s).await?;
        wait_count(&s, "Client connection created", 1).await?;
        let logs = s.logs();
        check_eq!(has_label(&logs, "[DBG]"), true);
        check_eq!(has_label(&logs, "[TRC]"), false);
        ctx.observe(
            "client debug",
            with(&logs, "Client connection created").join("\n"),
        );
    }
    Ok(())
}

async fn log_trace_flag(ctx: Ctx) -> Result<()> {
    for spec in [
        ServerSpec::new().args(["-V"]),
        ServerSpec::new().conf("trace: true\n"),
    ] {
        let s = ctx.server(spec).await?;
        some_traffic(&ctx, &s).await?;
        // All of the client's trace lines are in once its subscription is gone.
        wait_count(&s, "<-> [DELSUB 1]", 1).await?;
        let logs = s.logs();
        check_eq!(has_label(&logs, "[TRC]"), true);
        check_eq!(has_label(&logs, "[DBG]"), false);
        ctx.observe("traces", with(&logs, "[TRC]").join("\n"));
    }
    Ok(())
}

async fn log_debug_trace_flag(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().args(["-DV"])).await?;
    some_traffic(&ctx, &s).await?;
    // The client is gone once its subscription is traced away: every trace
    // line of its life is in the log by then.
    wait_count(&s, "<-> [DELSUB 1]", 1).await?;
    let logs = s.logs();
    check_eq!(has_label(&logs, "[TRC]"), true);
    check_eq!(has_label(&logs, "[DBG]"), true);
    let re = Regex::new(r"^\[\d+\] \d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} \[(INF|DBG|TRC)\] ")?;
    check_eq!(logs.lines().all(|l| re.is_match(l)), true);
    ctx.observe("traces", with(&logs, "[TRC]").join("\n"));
    ctx.observe(
        "client debug",
        with(&logs, "Client connection created").join("\n"),
    );
    Ok(())
}

async fn log_file_format(ctx: Ctx) -> Result<()> {
    for (logtime, re) in [
        (
            true,
            r"^\[(\d+)\] \d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} \[INF\] ",
        ),
        (false, r"^\[(\d+)\] \[INF\] "),
    ] {
        let s = ctx
            .server(
                ServerSpec::new()
                    .conf(&format!(
                        "log_file: \"{{{{dir}}}}/nats-server:log\"\nlogtime: {logtime}\n"
                    ))
                    .ready(Ready::ClientPort),
            )
            .await?;
        let text = wait_file(&s.dir().join("nats-server:log"), "Server is ready").await?;
        let re = Regex::new(re)?;
        let pid = pid_of(&s)?;
        for line in text.lines() {
            let caps = re
                .captures(line)
                .ok_or_else(|| anyhow!("line {line:?} does not match {re}"))?;
            check_eq!(caps[1].to_string(), pid);
        }
        // Nothing goes to stderr.
        check_eq!(s.logs(), "");
        ctx.observe(
            &format!("logtime {logtime}"),
            undir(&startup_lines(&text).join("\n"), s.dir()),
        );
    }
    Ok(())
}

/// Files in `dir` whose name starts with `prefix`, sorted.
fn files_with_prefix(dir: &Path, prefix: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    Ok(names)
}

async fn log_size_limit(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .conf("log_file: \"{{dir}}/nats.log\"\nlog_size_limit: 1000\ntrace: true\n")
                .ready(Ready::ClientPort),
        )
        .await?;
    let dir = s.dir().to_path_buf();
    let mut c = kit::eventually(WAIT, || async {
        Ok(ctx.raw_connected(&s, CONNECT).await.ok())
    })
    .await?;
    for i in 0..50 {
        c.send(&format!("SUB line.{i} {i}\r\n")).await?;
    }
    c.flush().await?;
    let files = kit::eventually(WAIT, || async {
        let files = files_with_prefix(&dir, "nats.log")?;
        Ok((files.len() > 1).then_some(files))
    })
    .await
    .context("the log was never rotated")?;
    let current = std::fs::read_to_string(dir.join("nats.log"))?;
    let rotated = with(&current, "Rotated log, backup saved as");
    check_eq!(rotated.is_empty(), false);
    let last = files.last().cloned().unwrap_or_default();
    let backup_re = Regex::new(r"^nats\.log\.\d{4}\.\d{2}\.\d{2}\.\d{2}\.\d{2}\.\d{2}\.\d{9}$")?;
    check_eq!(backup_re.is_match(&last), true);
    // Every file stays around the limit (one line may cross it).
    for f in &files {
        let len = std::fs::metadata(dir.join(f))?.len();
        check_eq!(len < 1000 + 300, true);
    }
    let first = undir(&rotated[0], &dir);
    let first = Regex::new(r"\.\d{4}\.\d{2}\.\d{2}\.\d{2}\.\d{2}\.\d{2}\.\d{9}")?
        .replace(&first, ".<time>")
        .into_owned();
    ctx.observe("rotated line", first);
    Ok(())
}

async fn log_size_limit_reopen(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .conf("log_file: \"{{dir}}/nats.log\"\nlog_size_limit: 1000\ntrace: true\n")
                .ready(Ready::ClientPort),
        )
        .await?;
    let dir = s.dir().to_path_buf();
    let log = dir.join("nats.log");
    wait_file(&log, "Server is ready").await?;
    s.signal(Signal::SIGUSR1)?;
    wait_file(&log, "File log re-opened").await?;
    // The limit still holds after the re-open.
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    c.send(&format!("SUB {} 1\r\n", "A".repeat(800))).await?;
    c.send(&format!("SUB {} 2\r\n", "B".repeat(800))).await?;
    c.flush().await?;
    let text = kit::eventually(WAIT, || async {
        let text = std::fs::read_to_string(&log)?;
        Ok((text.contains("Rotated log, backup saved as")
            && !text.contains("AAAAA")
            && !text.contains("BBBBB"))
        .then_some(text))
    })
    .await
    .context("not rotated after re-open")?;
    ctx.observe(
        "rotated",
        with(&text, "Rotated log").len().min(1).to_string(),
    );
    Ok(())
}

async fn trace_redacts_password(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .conf("trace: true\nauthorization { user: derek, password: s3cr3t }\n"),
        )
        .await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"user\":\"derek\",\"pass\":\"s3cr3t\"}\r\nPING\r\n")
        .await?;
    c.expect(r"\+OK\r\nPONG\r\n").await?;
    let cases = [
        "{\"user\":\"derek\",\"pass\":\"\"}",
        "{\"user\":\"derek\",\"pass\":    \"s3cr3t\"     }",
        "{\"user\":\"s3cr3t\",\"pass\":\"s3cr3t\"}",
        "{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"user\":\"foo\",\"pass\":\"s3cr3t\",\"tls_required\":false,\"name\":\"s3cr3t\"}",
        "{\"pass\":\"AAAAAAAAAAAAAAAAAAAA\",\"pass\":\"BBBBBBBBBBBBBBBBBBBB\",\"password\":\"CCCCCCCCCCCCCCCC\"}",
    ];
    for case in cases {
        let (mut c, _) = ctx.raw(&s).await?;
        c.send(&format!("CONNECT {case}\r\n")).await?;
        // Wrong credentials close the connection; its trace is written first.
        let _ = c.expect_closed(WAIT).await;
    }
    wait_count(&s, "<<- [CONNECT", cases.len() + 1).await?;
    let traces = with(&s.logs(), "<<- [CONNECT");
    let first = &traces[0];
    check_eq!(first.contains("s3cr3t"), false);
    check_eq!(first.contains("\"pass\":\"[REDACTED]\""), true);
    let tail: Vec<String> = traces
        .iter()
        .map(|l| l.split("<<- ").nth(1).unwrap_or_default().to_string())
        .collect();
    ctx.observe("connect traces", tail.join("\n"));
    Ok(())
}

// ---------------------------------------------------------------- remote syslog

/// Lines a fake syslog receiver got, one per message.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<String>>>);

impl Received {
    fn push(&self, text: &str) {
        let mut v = self.0.lock().expect("received");
        for line in text.lines().filter(|l| !l.is_empty()) {
            v.push(line.to_string());
        }
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().expect("received").clone()
    }

    async fn wait_for(&self, needle: &str) -> Result<String> {
        kit::eventually(WAIT, || async {
            Ok(self.lines().into_iter().find(|l| l.contains(needle)))
        })
        .await
        .with_context(|| format!("syslog never got {needle:?}: {:?}", self.lines()))
    }
}

/// A fake syslog receiver; its reader task ends when it is dropped.
struct Syslog {
    url: String,
    received: Received,
    task: tokio::task::JoinHandle<()>,
    _dir: Option<PathBuf>,
}

impl Drop for Syslog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Syslog {
    async fn udp() -> Result<Syslog> {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let url = format!("udp://{}", sock.local_addr()?);
        let received = Received::default();
        let r = received.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, _)) = sock.recv_from(&mut buf).await {
                r.push(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Ok(Syslog {
            url,
            received,
            task,
            _dir: None,
        })
    }

    async fn tcp() -> Result<Syslog> {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("tcp://{}", l.local_addr()?);
        let received = Received::default();
        let r = received.clone();
        let task = tokio::spawn(async move {
            if let Ok((stream, _)) = l.accept().await {
                read_lines(stream, r).await;
            }
        });
        Ok(Syslog {
            url,
            received,
            task,
            _dir: None,
        })
    }

    async fn unix(dir: PathBuf) -> Result<Syslog> {
        let path = dir.join("syslog.sock");
        let l = tokio::net::UnixListener::bind(&path)?;
        let url = format!("unix://{}", path_str(&path));
        let received = Received::default();
        let r = received.clone();
        let task = tokio::spawn(async move {
            if let Ok((stream, _)) = l.accept().await {
                read_lines(stream, r).await;
            }
        });
        Ok(Syslog {
            url,
            received,
            task,
            _dir: Some(dir),
        })
    }
}

/// Reads a stream and records each complete line.
async fn read_lines<R: tokio::io::AsyncRead + Unpin>(mut stream: R, r: Received) {
    let mut pending = String::new();
    let mut buf = vec![0u8; 16384];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some(end) = pending.rfind('\n') {
            let complete: String = pending.drain(..=end).collect();
            r.push(&complete);
        }
    }
}

/// One syslog message: priority, tag, pid and text.
#[derive(Debug)]
struct SyslogMsg {
    pri: u32,
    tag: String,
    pid: String,
    msg: String,
}

/// Parses `<PRI>RFC3339 HOST TAG[PID]: MSG` (network) or
/// `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG` (unix socket).
fn parse_syslog(line: &str, local: bool) -> Result<SyslogMsg> {
    let re = if local {
        r"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} ([^\[\s]+)\[(\d+)\]: (.*)$"
    } else {
        r"^<(\d+)>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}) \S+ ([^\[\s]+)\[(\d+)\]: (.*)$"
    };
    let caps = Regex::new(re)?
        .captures(line)
        .ok_or_else(|| anyhow!("syslog line {line:?} does not match {re}"))?;
    Ok(SyslogMsg {
        pri: caps[1].parse()?,
        tag: caps[2].to_string(),
        pid: caps[3].to_string(),
        msg: caps[4].to_string(),
    })
}

/// Starts a server logging to `url` and waits until the syslog got "Server is ready".
async fn syslog_server(ctx: &Ctx, sys: &Syslog, extra: &str) -> Result<Server> {
    let s = ctx
        .server(
            ServerSpec::new()
                .conf(&format!("remote_syslog: \"{}\"\n{extra}", sys.url))
                .ready(Ready::ClientPort),
        )
        .await?;
    sys.received.wait_for("Server is ready").await?;
    Ok(s)
}

/// Checks each line parses and carries the server's tag and pid; returns
/// `<pri> msg` of the messages containing `needle`.
fn syslog_msgs(s: &Server, sys: &Syslog, local: bool, needle: &str) -> Result<Vec<String>> {
    let pid = s.pid().context("not running")?;
    let tag = argv0_base(pid)?;
    let mut out = Vec::new();
    for line in sys.received.lines() {
        let m = parse_syslog(&line, local)?;
        if m.tag != tag || m.pid != pid.to_string() {
            bail!("tag/pid {}[{}], want {tag}[{pid}]", m.tag, m.pid);
        }
        if m.msg.contains(needle) {
            out.push(format!("<{}> {}", m.pri, m.msg));
        }
    }
    Ok(out)
}

async fn syslog_udp(ctx: Ctx) -> Result<()> {
    let sys = Syslog::udp().await?;
    let s = syslog_server(&ctx, &sys, "debug: true\ntrace: true\n").await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    c.send("SUB foo 1\r\n").await?;
    c.flush().await?;
    sys.received.wait_for("<<- [SUB foo").await?;
    sys.received.wait_for("Client connection created").await?;
    // Notices, debug and trace lines arrive, with their priorities.
    let ready = syslog_msgs(&s, &sys, false, "Server is ready")?;
    check_eq!(ready, vec!["<5> Server is ready".to_string()]);
    let debug = syslog_msgs(&s, &sys, false, "Client connection created")?;
    // (The kit's readiness probe is a client connection too.)
    check_eq!(debug.is_empty(), false);
    check_eq!(debug.iter().all(|l| l.starts_with("<7> ")), true);
    let trace = syslog_msgs(&s, &sys, false, "<<- [SUB foo")?;
    check_eq!(trace.len(), 1);
    check_eq!(trace[0].starts_with("<5> "), true);
    // Nothing goes to stderr.
    check_eq!(s.logs(), "");
    ctx.observe("ready", ready.join("\n"));
    ctx.observe("debug", &debug[debug.len() - 1]);
    ctx.observe("trace", trace.join("\n"));
    ctx.observe(
        "startup",
        undir(
            &syslog_msgs(&s, &sys, false, "Starting")?.join("\n"),
            s.dir(),
        ),
    );
    Ok(())
}

async fn syslog_disabled(ctx: Ctx) -> Result<()> {
    // Debug on, trace off: debug lines but no trace lines.
    let sys = Syslog::udp().await?;
    let s = syslog_server(&ctx, &sys, "debug: true\ntrace: false\n").await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    c.send("SUB foo 1\r\n").await?;
    c.flush().await?;
    sys.received.wait_for("Client connection created").await?;
    check_eq!(syslog_msgs(&s, &sys, false, "<<-")?.len(), 0);
    ctx.observe(
        "debug only",
        syslog_msgs(&s, &sys, false, "Client connection created")?[0].clone(),
    );
    drop(c);
    // Both off: neither.
    let sys = Syslog::udp().await?;
    let s = syslog_server(&ctx, &sys, "debug: false\ntrace: false\n").await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    c.send("SUB foo 1\r\n").await?;
    c.flush().await?;
    drop(c);
    // The server logs nothing more at notice level for a client, so a
    // reload notice marks the point after the client's activity.
    s.signal(Signal::SIGHUP)?;
    sys.received
        .wait_for("Reloaded server configuration")
        .await?;
    let all = syslog_msgs(&s, &sys, false, "")?;
    check_eq!(all.iter().any(|l| l.starts_with("<7>")), false);
    check_eq!(all.iter().any(|l| l.contains("<<-")), false);
    ctx.observe("quiet count of debug", "0");
    Ok(())
}

async fn syslog_tcp(ctx: Ctx) -> Result<()> {
    let sys = Syslog::tcp().await?;
    let s = syslog_server(&ctx, &sys, "").await?;
    let ready = syslog_msgs(&s, &sys, false, "Server is ready")?;
    check_eq!(ready, vec!["<5> Server is ready".to_string()]);
    ctx.observe(
        "startup",
        undir(&syslog_msgs(&s, &sys, false, "")?.join("\n"), s.dir()),
    );
    Ok(())
}

async fn syslog_unix(ctx: Ctx) -> Result<()> {
    let sys = Syslog::unix(ctx.new_dir("syslog")?).await?;
    let s = syslog_server(&ctx, &sys, "").await?;
    let ready = syslog_msgs(&s, &sys, true, "Server is ready")?;
    check_eq!(ready, vec!["<5> Server is ready".to_string()]);
    ctx.observe(
        "startup",
        undir(&syslog_msgs(&s, &sys, true, "")?.join("\n"), s.dir()),
    );
    Ok(())
}

/// TestTLSVersions and TestTlsCipher, as far as a client can make them
/// show: one TLS connection per cipher suite the kit's client can offer
/// with the server's ECDSA certificate, each on the version it belongs to;
/// /connz names the version and the suite of each.
async fn tls_names(ctx: Ctx) -> Result<()> {
    use crate::kit::tls_raw::{self, TlsOptions};
    let s = super::tls::start(
        &ctx,
        r#"
http: "127.0.0.1:{{http_port}}"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
}
"#,
    )
    .await?;
    let mut clients = Vec::new();
    let mut offered = Vec::new();
    for name in tls_raw::suite_names() {
        if name.contains("_RSA_") {
            continue;
        }
        let suite: &'static str = Box::leak(name.into_boxed_str());
        let opts = TlsOptions {
            suite: Some(suite),
            ..TlsOptions::default()
        };
        let (mut c, _, agreed) = tls_raw::connect(&s.addr(), &opts).await?;
        c.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await?;
        c.expect_pong().await?;
        offered.push(format!("{} {}", agreed.version, agreed.cipher_suite));
        clients.push(c);
    }
    let connz = ctx.http_json(&s, "/connz?sort=cid").await?;
    let listed: Vec<String> = connz["connections"]
        .as_array()
        .context("connections")?
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["tls_version"].as_str().unwrap_or("-"),
                c["tls_cipher_suite"].as_str().unwrap_or("-")
            )
        })
        .collect();
    ctx.observe("connz", listed.join("|"));
    check_eq!(listed, offered);
    Ok(())
}
