//! natsd: a NATS server that behaves like nats-server 2.9.10.

mod account;
mod auth;
mod client;
mod config;
mod flags;
mod hostport;
mod logging;
mod monitor;
mod options;
mod ports_file;
mod profiler;
mod proto;
mod server;
mod signals;
mod subject;
mod sublist;

use flags::{Flags, USAGE};
use options::Options;
use std::process::exit;

const EXE: &str = "nats-server";

/// Go's PrintAndDie.
fn die(msg: &str) -> ! {
    eprintln!("{msg}");
    exit(1)
}

fn usage() -> ! {
    println!("{USAGE}");
    exit(0)
}

fn version() -> ! {
    println!("{EXE}: v{}", server::VERSION);
    exit(0)
}

/// Flags, then the config file, then the flags again on top (as Go does).
fn configure() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match Flags::parse(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            usage();
        }
    };
    if flags.bool(&["v", "version"]) == Some(true) {
        version();
    }
    if flags.bool(&["h", "help"]) == Some(true) {
        usage();
    }
    if flags.bool(&["help_tls"]) == Some(true) {
        println!("TLS configuration is specified in the tls section of a configuration file.");
        exit(0);
    }
    if let Some(arg) = flags.rest.first() {
        match arg.as_str() {
            "version" => version(),
            "help" => usage(),
            other => die(&format!("{EXE}: unrecognized command: \"{other}\"")),
        }
    }
    let mut opts = Options {
        logtime: true,
        ..Default::default()
    };
    flags.apply(&mut opts);
    if let Some(sig) = flags.signal() {
        match signals::send(&sig) {
            Ok(()) => exit(0),
            Err(e) => die(&format!("{EXE}: {e}")),
        }
    }
    let config_file = flags.config_file();
    if !config_file.is_empty() {
        if let Err(e) = opts.process_config_file(&config_file) {
            if opts.check_config || !e.is_warnings_only() {
                die(&format!("{EXE}: {e}"));
            }
            eprint!("{e}");
        } else if opts.check_config {
            eprintln!("{EXE}: configuration file {config_file} is valid");
            exit(0);
        }
        flags.apply(&mut opts);
    } else if opts.check_config {
        die(&format!(
            "{EXE}: must specify [-c, --config] option to check configuration file syntax"
        ));
    }
    flags.apply_combined(&mut opts);
    if flags.is_set("tls") || flags.is_set("tlscert") || flags.is_set("tlskey") {
        if opts.tls_cert.is_empty() {
            die(&format!(
                "{EXE}: TLS Server certificate must be present and valid"
            ));
        }
        if opts.tls_key.is_empty() {
            die(&format!(
                "{EXE}: TLS Server private key must be present and valid"
            ));
        }
    }
    if !opts.routes_str.is_empty() && opts.cluster_listen.is_empty() && opts.cluster_port == 0 {
        die(&format!(
            "{EXE}: solicited routes require cluster capabilities, e.g. --cluster"
        ));
    }
    opts
}

/// Go's validateOptions checks that can fail NewServer.
fn validate(o: &Options) -> Result<(), String> {
    if !o.lame_duck_duration.is_zero() && o.lame_duck_grace_period >= o.lame_duck_duration {
        return Err(format!(
            "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
            options::go_duration(o.lame_duck_grace_period),
            options::go_duration(o.lame_duck_duration)
        ));
    }
    if i64::from(o.max_payload) > o.max_pending {
        return Err(format!(
            "max_payload ({}) cannot be higher than max_pending ({})",
            o.max_payload, o.max_pending
        ));
    }
    if !o.no_auth_user.is_empty() {
        if o.users.is_empty() {
            return Err(format!(
                "no_auth_user: \"{}\" present, but users are not defined",
                o.no_auth_user
            ));
        }
        if !o.users.iter().any(|u| u.username == o.no_auth_user) {
            return Err(format!(
                "no_auth_user: \"{}\" not present as user in authorization block or account configuration",
                o.no_auth_user
            ));
        }
    }
    Ok(())
}

fn main() {
    let mut opts = configure();
    opts.set_baseline();
    if let Err(e) = validate(&opts) {
        die(&format!("{EXE}: {e}"));
    }
    logging::configure(logging::LogConfig {
        debug: opts.debug,
        trace: opts.trace,
        time: opts.logtime,
        file: opts.log_file.clone(),
        size_limit: opts.log_size_limit,
        syslog: opts.syslog,
        remote_syslog: opts.remote_syslog.clone(),
    });
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => die(&format!("{EXE}: {e}")),
    };
    let code = rt.block_on(async move {
        let signals = match signals::Signals::install() {
            Ok(s) => s,
            Err(e) => {
                fatal!("{e}");
                return 1;
            }
        };
        let srv = server::Server::new(opts);
        if let Err(e) = srv.start().await {
            fatal!("{e}");
            return 1;
        }
        // Go's automaxprocs reports here; kept for log parity.
        let procs = std::thread::available_parallelism().map_or(1, |n| n.get());
        debug!("maxprocs: Leaving GOMAXPROCS={procs}: CPU quota undefined");
        let code = signals.run(srv).await;
        debug!("maxprocs: No GOMAXPROCS change to reset");
        code
    });
    exit(code);
}
