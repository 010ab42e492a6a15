//! OS errors as Go words them, for the texts natsd shares with Go.

/// An OS error as Go words it: no "(os error N)", lower case
/// ("no space left on device").
pub fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_gos() {
        let e = std::io::Error::from_raw_os_error(28);
        assert_eq!(os_error_text(&e), "no space left on device");
    }
}
