//! Local wall-clock time broken into fields, and the few ways the Go server
//! and Go's log and syslog packages print it.

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A local time, as `localtime_r` gives it, with nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub nanos: u32,
    /// Seconds east of UTC.
    pub utc_offset: i64,
}

impl LocalTime {
    pub fn now() -> LocalTime {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs() as libc::time_t;
        // SAFETY: localtime_r only writes into the tm we own.
        let tm = unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            libc::localtime_r(&secs, &mut tm);
            tm
        };
        LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            min: tm.tm_min as u32,
            sec: tm.tm_sec as u32,
            nanos: now.subsec_nanos(),
            utc_offset: tm.tm_gmtoff,
        }
    }

    /// `2006/01/02 15:04:05.000000`: Go's log flags with microseconds.
    pub fn log_stamp(&self) -> String {
        format!(
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.min,
            self.sec,
            self.nanos / 1000
        )
    }

    /// `2006/01/02 15:04:05`: Go's standard logger, used for fatal errors
    /// before the server's logger exists.
    pub fn std_stamp(&self) -> String {
        format!(
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
        )
    }

    /// `2006.01.02.15.04.05.000000000`: the suffix of a rotated log file.
    pub fn backup_suffix(&self) -> String {
        format!(
            "{:04}.{:02}.{:02}.{:02}.{:02}.{:02}.{:09}",
            self.year, self.month, self.day, self.hour, self.min, self.sec, self.nanos
        )
    }

    /// RFC 3339 to the second, `Z` for UTC (remote syslog messages).
    pub fn rfc3339(&self) -> String {
        let zone = if self.utc_offset == 0 {
            "Z".to_string()
        } else {
            let sign = if self.utc_offset < 0 { '-' } else { '+' };
            let off = self.utc_offset.abs();
            format!("{sign}{:02}:{:02}", off / 3600, off % 3600 / 60)
        };
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
        )
    }

    /// `Jan _2 15:04:05` (local syslog messages).
    pub fn syslog_stamp(&self) -> String {
        let month = MONTHS
            .get(self.month.saturating_sub(1) as usize)
            .copied()
            .unwrap_or("Jan");
        format!(
            "{month} {:>2} {:02}:{:02}:{:02}",
            self.day, self.hour, self.min, self.sec
        )
    }
}

#[cfg(test)]
pub(crate) fn sample() -> LocalTime {
    LocalTime {
        year: 2023,
        month: 3,
        day: 7,
        hour: 9,
        min: 5,
        sec: 4,
        nanos: 12_345_678,
        utc_offset: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = sample();
        assert_eq!(t.log_stamp(), "2023/03/07 09:05:04.012345");
        assert_eq!(t.std_stamp(), "2023/03/07 09:05:04");
        assert_eq!(t.backup_suffix(), "2023.03.07.09.05.04.012345678");
        assert_eq!(t.rfc3339(), "2023-03-07T09:05:04Z");
        assert_eq!(t.syslog_stamp(), "Mar  7 09:05:04");
        let east = LocalTime {
            utc_offset: 5 * 3600 + 1800,
            ..t
        };
        assert_eq!(east.rfc3339(), "2023-03-07T09:05:04+05:30");
        let west = LocalTime {
            utc_offset: -8 * 3600,
            ..t
        };
        assert_eq!(west.rfc3339(), "2023-03-07T09:05:04-08:00");
    }
}
