//! A network client: its reader task parses and acts on what it sends, its
//! writer task flushes its outbound queue and runs the ping timer.

pub mod reader;
pub mod writer;
