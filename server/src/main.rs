//! The natsd binary: nats-server 2.9.10's command line (see `natsd::cli`).

fn main() {
    natsd::cli::main()
}
