//! The command line: flags, then the config file, then the server until a
//! signal stops it, with Go's exit codes and messages.

use crate::flags::{Flags, USAGE};
use crate::options::Options;
use crate::{debug, fatal};
use crate::{logging, options, server, signals};
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
fn configure() -> (Options, Flags) {
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
    let mut opts = Options::with_flag_defaults();
    flags.apply(&mut opts);
    if let Some(sig) = flags.signal() {
        match signals::send(&sig) {
            Ok(()) => exit(0),
            Err(e) => die(&format!("{EXE}: {e}")),
        }
    }
    let config_file = flags.config_file();
    if !config_file.is_empty() {
        let processed = opts.process_config_file(&config_file);
        if let Err(e) = &processed {
            if opts.check_config || !e.is_warnings_only() {
                die(&format!("{EXE}: {e}"));
            }
            eprint!("{e}");
        }
        // natsd fails closed: `-t` and start-up alike refuse what it
        // would have to ignore at the cost of admitting more than Go.
        if let Err(e) = options::unserved::check(&opts) {
            die(&format!("{EXE}: {e}"));
        }
        if processed.is_ok() && opts.check_config {
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
    if let Err(e) = options::flag_overrides::apply(&mut opts, &|name: &str| flags.is_set(name)) {
        die(&format!("{EXE}: {e}"));
    }
    (opts, flags)
}

/// Runs the server as the `natsd` binary does; never returns.
pub fn main() -> ! {
    let (mut opts, flags) = configure();
    opts.set_baseline();
    opts.add_system_only_no_auth_user(None);
    if let Err(e) = opts.validate() {
        die(&format!("{EXE}: {e}"));
    }
    let log = logging::Log::new(logging::LogConfig::of(&opts));
    logging::bind(&log);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || logging::bind(&log))
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
        let srv = match crate::launch::server(opts, flags) {
            Ok(srv) => srv,
            Err(e) => {
                fatal!("{e}");
                return 1;
            }
        };
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
