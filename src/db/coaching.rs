//! Coach–athlete links: the access an athlete grants a coach.
//!
//! (Created by the `coachview` branch with the signature agreed for issue 8;
//! the `sharing` branch owns this module and adds links, invitations and the
//! rest. When merging, keep one [`Access`] and one [`access`].)

use sqlx::PgConnection;
use uuid::Uuid;

/// What a linked coach may see of an athlete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Dashboard figures, load, calendar, activity summaries.
    Summary,
    /// Also streams, charts, routes and original files.
    Full,
}

impl Access {
    /// The storage form.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Full => "full",
        }
    }

    /// Parse the storage form.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "summary" => Some(Self::Summary),
            "full" => Some(Self::Full),
            _ => None,
        }
    }
}

/// The access `coach_id` has to `athlete_id`'s data, if they are linked.
///
/// # Errors
/// Database errors.
pub async fn access(
    conn: &mut PgConnection,
    coach_id: Uuid,
    athlete_id: Uuid,
) -> Result<Option<Access>, sqlx::Error> {
    let raw = sqlx::query_scalar!(
        "SELECT access FROM coach_links WHERE coach_id = $1 AND athlete_id = $2",
        coach_id,
        athlete_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(raw.as_deref().and_then(Access::parse))
}
