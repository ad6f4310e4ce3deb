//! [`ImportError`]: why a file could not be imported, in words a person can act on.

/// Why a file could not be imported. The `Display` text is meant for the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Zero bytes (or only whitespace).
    #[error("the file is empty")]
    Empty,
    /// Neither FIT, GPX nor TCX by content.
    #[error("{0}")]
    UnsupportedFormat(String),
    /// A valid FIT file of another kind (settings, monitoring, course, …).
    #[error("this FIT file holds {0}, not a recorded activity")]
    NotAnActivity(&'static str),
    /// GPX/TCX points mostly without timestamps: a planned route.
    #[error(
        "a route, not a recorded activity: most points have no time ({timed} of {total} points have one)"
    )]
    RouteWithoutTimes {
        /// Points with a time.
        timed: usize,
        /// All points.
        total: usize,
    },
    /// Points whose times are all (or mostly) the same placeholder value.
    #[error(
        "a route, not a recorded activity: its {total} points carry the same few placeholder times ({distinct} distinct)"
    )]
    RepeatedTimes {
        /// Distinct, increasing times.
        distinct: usize,
        /// Timed points.
        total: usize,
    },
    /// A GPX file without a track (only waypoints or a route).
    #[error("the GPX file has no recorded track ({0})")]
    NoTrack(&'static str),
    /// A well-formed file without any timed sample.
    #[error("the {0} file contains no recorded data points")]
    NoRecords(&'static str),
    /// The data stops in the middle of a record.
    #[error("the {format} file ends unexpectedly at byte {offset} (truncated download?)")]
    Truncated {
        /// `FIT`, `GPX`, `TCX`.
        format: &'static str,
        /// Byte offset (in the decompressed data) where more was expected.
        offset: u64,
    },
    /// The FIT file header is invalid.
    #[error("the FIT file header at byte {offset} is corrupt: {reason}")]
    BadHeader {
        /// Where the header starts (0, or later for chained FIT files).
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The FIT file's checksum does not match its content.
    #[error(
        "the FIT file is corrupt: its checksum does not match (stored {stored:#06x}, computed {computed:#06x})"
    )]
    BadChecksum {
        /// CRC written in the file.
        stored: u16,
        /// CRC of the bytes read.
        computed: u16,
    },
    /// A FIT record that cannot be decoded.
    #[error("the FIT file is corrupt at byte {offset} (record {record}): {reason}")]
    CorruptFit {
        /// Byte offset of the record.
        offset: u64,
        /// Record number, from 1.
        record: u64,
        /// What is wrong.
        reason: String,
    },
    /// XML that is not well-formed or not a GPX/TCX document.
    #[error("the {format} file is not valid XML near byte {offset}: {reason}")]
    MalformedXml {
        /// `GPX`, `TCX`, or `XML` before the root is known.
        format: &'static str,
        /// Byte offset near the problem.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A gzip stream that cannot be decompressed.
    #[error("the compressed (.gz) file is corrupt: {0}")]
    BadGzip(String),
    /// Decompressing would exceed the size limit.
    #[error(
        "the file is larger than {limit_mb} MB once decompressed; split it or upload the uncompressed activity"
    )]
    TooLarge {
        /// The limit in MB.
        limit_mb: u64,
    },
}
