//! What a protocol case is: named bytes, sent in chunks, to one of the two
//! server sets. Kept apart from the generators so that the runner and the
//! report depend on the shape of a case, not on how it was made.

/// Which of the two server sets a case runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Set {
    /// No authorization configured: most classes.
    Open,
    /// The users alice, admin and guest with their permissions.
    Auth,
}

/// One protocol case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// `<class>#<index>`: unique in a run, the same for the same seed.
    pub name: String,
    /// The generator class, which is also the divergence class.
    pub class: &'static str,
    pub set: Set,
    /// The bytes, in the writes they are sent in.
    pub chunks: Vec<Vec<u8>>,
}
