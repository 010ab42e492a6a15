//! parity: the harness that checks natsd against the Go nats-server 2.9.10.
//!
//! Go tests are inventoried from the Go sources ([`gotests`]), mapped to
//! black-box scenarios ([`registry`], [`scenarios`]) that run on both servers
//! through the [`kit`] ([`runner`]); results land in the parity database
//! ([`db`]), from which each Go test's status ([`status`]) and the gap
//! inventory ([`gaps`]) and reports ([`reports`]) are derived. Apart from
//! scenarios, [`fuzzdiff`] sends both servers generated malformed input and
//! compares what they answer.

pub mod bench;
pub mod check;
pub mod classifications;
pub mod cli;
pub mod crash;
pub mod db;
pub mod evidence;
pub mod fuzzdiff;
pub mod gaps;
pub mod gochecks;
pub mod gotests;
pub mod kit;
pub mod mutants;
pub mod normalize;
pub mod registry;
pub mod reports;
pub mod rng;
pub mod runner;
pub mod scenarios;
pub mod sources;
pub mod status;
pub mod weak;
