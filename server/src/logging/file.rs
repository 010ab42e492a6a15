//! A log file that can be capped in size: once a write takes it over the
//! limit, it is renamed with a time suffix, a fresh file is started and the
//! first line of the new file says where the old one went.

use super::clock::LocalTime;
use super::LineFormat;
use natsd_proto::quote::go_quote;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

pub struct FileLog {
    path: String,
    file: File,
    format: LineFormat,
    /// Bytes in the current file, counting what was there when opened.
    written: u64,
    /// Rotation threshold; 0 means never rotate.
    limit: u64,
}

/// Opens for appending, creating the file as Go does (mode 0660).
fn open_append(path: &str) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o660)
        .open(path)
}

impl FileLog {
    pub fn open(path: &str, format: LineFormat) -> std::io::Result<FileLog> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        Ok(FileLog {
            path: path.to_string(),
            file,
            format,
            written,
            limit: 0,
        })
    }

    /// Caps the file size. Returns true when the file is already over it:
    /// the caller then logs a line, and that write rotates the file.
    pub fn set_limit(&mut self, limit: u64) -> bool {
        self.limit = limit;
        limit > 0 && self.written > limit
    }

    /// Appends one formatted line, rotating afterwards if over the limit.
    pub fn write(&mut self, line: &[u8]) {
        if self.file.write_all(line).is_err() {
            return;
        }
        self.written += line.len() as u64;
        if self.limit > 0 && self.written > self.limit {
            self.rotate();
        }
    }

    fn rotate(&mut self) {
        let backup = backup_name(&self.path, &LocalTime::now());
        // Go ignores a failed rename too: the reopened file then just
        // continues the old one.
        let _ = std::fs::rename(&self.path, &backup);
        match open_append(&self.path) {
            Ok(f) => self.file = f,
            Err(e) => {
                // Go panics here; the process cannot go on without its log.
                eprintln!(
                    "panic: Unable to re-open the logfile {} after rotation: {}",
                    go_quote(self.path.as_bytes()),
                    super::os_error_text(&e)
                );
                std::process::exit(2);
            }
        }
        // Go writes this line straight to the new file, ending it with CRLF
        // unlike every other line.
        let line = self.format.line(
            "INF",
            format_args!(
                "Rotated log, backup saved as {}",
                go_quote(backup.as_bytes())
            ),
            "\r\n",
        );
        let _ = self.file.write_all(line.as_bytes());
        self.written = line.len() as u64;
    }
}

/// `<path>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn`, the name a rotated file gets.
pub fn backup_name(path: &str, t: &LocalTime) -> String {
    format!("{path}.{}", t.backup_suffix())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format() -> LineFormat {
        LineFormat {
            prefix: "[7] ".into(),
            time: false,
        }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("natsd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn backup_names_like_go() {
        let t = super::super::clock::sample();
        assert_eq!(
            backup_name("/var/log/nats.log", &t),
            "/var/log/nats.log.2023.03.07.09.05.04.012345678"
        );
    }

    #[test]
    fn rotates_past_the_limit() {
        let dir = temp_dir("rotate");
        let path = dir.join("n.log").to_string_lossy().into_owned();
        let mut log = FileLog::open(&path, format()).unwrap();
        assert!(!log.set_limit(20));
        log.write(b"0123456789\n");
        log.write(b"0123456789\n");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2);
        let backup = names.iter().find(|n| n.as_str() != "n.log").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(backup)).unwrap(),
            "0123456789\n0123456789\n"
        );
        let current = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            current,
            format!(
                "[7] [INF] Rotated log, backup saved as \"{}\"\r\n",
                dir.join(backup).display()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reports_a_file_already_over_the_limit() {
        let dir = temp_dir("over");
        let path = dir.join("n.log").to_string_lossy().into_owned();
        std::fs::write(&path, "0123456789").unwrap();
        let mut log = FileLog::open(&path, format()).unwrap();
        assert!(log.set_limit(5));
        assert!(!log.set_limit(0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
