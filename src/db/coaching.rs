//! Coaches and athletes: the links (who may see whom, and how much), the
//! invitations that create them, and the admin's per-source visibility.
//!
//! * A link row exists only while the link is active; revoking (by either
//!   side) deletes it and the audit log keeps the history. [`access`] reads it
//!   on every coach request, so a change or a revocation applies at once.
//! * Invitations are single use and expire after [`INVITATION_DAYS`]. Using one
//!   (accept, decline, cancel) is one `UPDATE … WHERE used_at IS NULL AND
//!   expires_at > now RETURNING`, so a replay or two racing requests cannot
//!   use it twice: the second finds no row.
//! * A coach's invitation link carries 256 random bits (base64url); only the
//!   SHA-256 of the token text is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// How long an invitation stays valid.
pub const INVITATION_DAYS: i64 = 14;

/// Longest token text looked up (a real one is 43 characters).
const MAX_TOKEN_LEN: usize = 128;

/// What a coach may see of an athlete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Dashboard figures, load, calendar, activity summaries.
    Summary,
    /// Also streams, charts, routes and original files.
    Full,
}

impl Access {
    pub const ALL: [Self; 2] = [Self::Summary, Self::Full];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Full => "full",
        }
    }

    /// Parse `summary` or `full`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "summary" => Some(Self::Summary),
            "full" => Some(Self::Full),
            _ => None,
        }
    }

    /// Words for pages ("summary access").
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Summary => "Summary",
            Self::Full => "Full",
        }
    }

    /// Stored values are constrained by the schema; anything else reads as
    /// the narrower access.
    fn from_db(text: &str) -> Self {
        Self::parse(text).unwrap_or(Self::Summary)
    }
}

/// The access `coach_id` has to `athlete_id`'s data, if linked. One indexed
/// lookup; call it on every coach request.
///
/// # Errors
/// Database errors.
pub async fn access(
    conn: &mut PgConnection,
    coach_id: Uuid,
    athlete_id: Uuid,
) -> Result<Option<Access>, sqlx::Error> {
    let row = sqlx::query_scalar!(
        "SELECT access FROM coach_links WHERE coach_id = $1 AND athlete_id = $2",
        coach_id,
        athlete_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.as_deref().map(Access::from_db))
}

/// One link, seen from one side: `other_*` is the coach (for an athlete's
/// list) or the athlete (for a coach's list).
#[derive(Debug, Clone)]
pub struct Link {
    pub coach_id: Uuid,
    pub athlete_id: Uuid,
    pub other_name: String,
    pub other_email: String,
    pub access: Access,
    pub since: DateTime<Utc>,
}

/// A link row with the other side's name and email, as [`coaches_of`] and
/// [`athletes_of`] read it.
struct LinkRow {
    coach_id: Uuid,
    athlete_id: Uuid,
    access: String,
    created_at: DateTime<Utc>,
    display_name: String,
    email: String,
}

impl From<LinkRow> for Link {
    fn from(r: LinkRow) -> Self {
        Self {
            coach_id: r.coach_id,
            athlete_id: r.athlete_id,
            other_name: r.display_name,
            other_email: r.email,
            access: Access::from_db(&r.access),
            since: r.created_at,
        }
    }
}

/// The coaches of an athlete, by name.
///
/// # Errors
/// Database errors.
pub async fn coaches_of(
    conn: &mut PgConnection,
    athlete_id: Uuid,
) -> Result<Vec<Link>, sqlx::Error> {
    let rows = sqlx::query_as!(
        LinkRow,
        "SELECT l.coach_id, l.athlete_id, l.access, l.created_at, u.display_name, u.email
         FROM coach_links l JOIN users u ON u.id = l.coach_id
         WHERE l.athlete_id = $1 ORDER BY lower(u.display_name), u.id",
        athlete_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Link::from).collect())
}

/// The athletes of a coach, by name.
///
/// # Errors
/// Database errors.
pub async fn athletes_of(
    conn: &mut PgConnection,
    coach_id: Uuid,
) -> Result<Vec<Link>, sqlx::Error> {
    let rows = sqlx::query_as!(
        LinkRow,
        "SELECT l.coach_id, l.athlete_id, l.access, l.created_at, u.display_name, u.email
         FROM coach_links l JOIN users u ON u.id = l.athlete_id
         WHERE l.coach_id = $1 ORDER BY lower(u.display_name), u.id",
        coach_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Link::from).collect())
}

/// Create a link, or set the access of an existing one. Returns the access it
/// had before (`None`: the link is new).
///
/// # Errors
/// Database errors (including the schema's refusal of a self-link).
pub async fn link(
    conn: &mut PgConnection,
    coach_id: Uuid,
    athlete_id: Uuid,
    access: Access,
) -> Result<Option<Access>, sqlx::Error> {
    let before = sqlx::query_scalar!(
        "SELECT access FROM coach_links WHERE coach_id = $1 AND athlete_id = $2 FOR UPDATE",
        coach_id,
        athlete_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO coach_links (coach_id, athlete_id, access) VALUES ($1, $2, $3)
         ON CONFLICT (coach_id, athlete_id) DO UPDATE SET access = EXCLUDED.access, updated_at = now()",
        coach_id,
        athlete_id,
        access.as_str()
    )
    .execute(conn)
    .await?;
    Ok(before.as_deref().map(Access::from_db))
}

/// Change the access of an existing link. Returns the access before, or
/// `None` when there is no such link (nothing changed).
///
/// # Errors
/// Database errors.
pub async fn set_access(
    conn: &mut PgConnection,
    coach_id: Uuid,
    athlete_id: Uuid,
    access: Access,
) -> Result<Option<Access>, sqlx::Error> {
    let before = sqlx::query_scalar!(
        r#"WITH old AS (
               SELECT access FROM coach_links WHERE coach_id = $1 AND athlete_id = $2 FOR UPDATE
           )
           UPDATE coach_links l SET access = $3, updated_at = now()
           FROM old WHERE l.coach_id = $1 AND l.athlete_id = $2
           RETURNING old.access AS "access!""#,
        coach_id,
        athlete_id,
        access.as_str()
    )
    .fetch_optional(conn)
    .await?;
    Ok(before.as_deref().map(Access::from_db))
}

/// End a link (by either side). Returns the access it had, or `None` when
/// there was no such link.
///
/// # Errors
/// Database errors.
pub async fn unlink(
    conn: &mut PgConnection,
    coach_id: Uuid,
    athlete_id: Uuid,
) -> Result<Option<Access>, sqlx::Error> {
    let before = sqlx::query_scalar!(
        "DELETE FROM coach_links WHERE coach_id = $1 AND athlete_id = $2 RETURNING access",
        coach_id,
        athlete_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(before.as_deref().map(Access::from_db))
}

// ------------------------------------------------------------- invitations

/// Which side created an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An athlete invited a coach by email.
    Athlete,
    /// A coach's invitation link.
    Coach,
}

impl Kind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Athlete => "athlete",
            Self::Coach => "coach",
        }
    }

    fn from_db(text: &str) -> Self {
        if text == "coach" {
            Self::Coach
        } else {
            Self::Athlete
        }
    }
}

/// How an invitation was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Declined,
    Cancelled,
}

impl Outcome {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Cancelled => "cancelled",
        }
    }
}

/// An invitation with its creator.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: Uuid,
    pub kind: Kind,
    pub created_by: Uuid,
    pub creator_name: String,
    pub creator_email: String,
    /// The invited address (athlete invitations).
    pub email: Option<String>,
    pub access: Access,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// When an invitation created at `now` expires.
#[must_use]
pub fn expiry(now: DateTime<Utc>) -> DateTime<Utc> {
    now + TimeDelta::days(INVITATION_DAYS)
}

/// The stored form of a link token.
#[must_use]
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new link token: 256 random bits from the OS CSPRNG, base64url.
#[must_use]
pub fn new_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

macro_rules! invitation {
    ($r:expr) => {
        Invitation {
            id: $r.id,
            kind: Kind::from_db(&$r.kind),
            created_by: $r.created_by,
            creator_name: $r.display_name,
            creator_email: $r.email,
            email: $r.email_normalized,
            access: Access::from_db(&$r.access),
            expires_at: $r.expires_at,
            used_at: $r.used_at,
            created_at: $r.created_at,
        }
    };
}

/// An athlete invites a coach by email (normalised). `None` when the athlete
/// already has a pending invitation to that address (nothing created).
///
/// # Errors
/// Database errors.
pub async fn invite_coach(
    conn: &mut PgConnection,
    athlete_id: Uuid,
    email_normalized: &str,
    access: Access,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, sqlx::Error> {
    // Serialise per athlete so two racing invitations cannot both pass the check.
    sqlx::query!("SELECT id FROM users WHERE id = $1 FOR UPDATE", athlete_id)
        .fetch_optional(&mut *conn)
        .await?;
    let pending = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM coach_invitations
           WHERE kind = 'athlete' AND created_by = $1 AND email_normalized = $2
             AND used_at IS NULL AND expires_at > $3"#,
        athlete_id,
        email_normalized,
        now
    )
    .fetch_one(&mut *conn)
    .await?;
    if pending > 0 {
        return Ok(None);
    }
    let id = sqlx::query_scalar!(
        "INSERT INTO coach_invitations (kind, created_by, email_normalized, access, expires_at, created_at)
         VALUES ('athlete', $1, $2, $3, $4, $5) RETURNING id",
        athlete_id,
        email_normalized,
        access.as_str(),
        expiry(now),
        now
    )
    .fetch_one(conn)
    .await?;
    Ok(Some(id))
}

/// A coach creates an invitation link; returns its id and the token (shown
/// once; only its hash is stored). The access is chosen by the athlete when
/// accepting; `summary` is stored as the default offered.
///
/// # Errors
/// Database errors.
pub async fn create_link_token(
    conn: &mut PgConnection,
    coach_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(Uuid, String), sqlx::Error> {
    let token = new_token();
    let id = sqlx::query_scalar!(
        "INSERT INTO coach_invitations (kind, created_by, token_sha256, access, expires_at, created_at)
         VALUES ('coach', $1, $2, 'summary', $3, $4) RETURNING id",
        coach_id,
        token_hash(&token),
        expiry(now),
        now
    )
    .fetch_one(conn)
    .await?;
    Ok((id, token))
}

/// Pending invitations an athlete sent (to coaches by email), newest first.
///
/// # Errors
/// Database errors.
pub async fn pending_sent(
    conn: &mut PgConnection,
    user_id: Uuid,
    kind: Kind,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT i.id, i.kind, i.created_by, i.email_normalized, i.access, i.expires_at, i.used_at,
                i.created_at, u.display_name, u.email
         FROM coach_invitations i JOIN users u ON u.id = i.created_by
         WHERE i.created_by = $1 AND i.kind = $2 AND i.used_at IS NULL AND i.expires_at > $3
         ORDER BY i.created_at DESC, i.id",
        user_id,
        kind.as_str(),
        now
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| invitation!(r)).collect())
}

/// Pending athlete invitations addressed to an email (normalised): what a
/// coach (or someone who just signed up with it) may accept.
///
/// # Errors
/// Database errors.
pub async fn pending_for_email(
    conn: &mut PgConnection,
    email_normalized: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT i.id, i.kind, i.created_by, i.email_normalized, i.access, i.expires_at, i.used_at,
                i.created_at, u.display_name, u.email
         FROM coach_invitations i JOIN users u ON u.id = i.created_by
         WHERE i.kind = 'athlete' AND i.email_normalized = $1 AND i.used_at IS NULL AND i.expires_at > $2
         ORDER BY i.created_at DESC, i.id",
        email_normalized,
        now
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| invitation!(r)).collect())
}

/// Every invitation a user created or that is addressed to them, pending or
/// not, newest first (the admin's view).
///
/// # Errors
/// Database errors.
pub async fn involving(
    conn: &mut PgConnection,
    user_id: Uuid,
    email_normalized: &str,
    limit: i64,
) -> Result<Vec<Invitation>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT i.id, i.kind, i.created_by, i.email_normalized, i.access, i.expires_at, i.used_at,
                i.created_at, u.display_name, u.email
         FROM coach_invitations i JOIN users u ON u.id = i.created_by
         WHERE i.created_by = $1 OR (i.kind = 'athlete' AND i.email_normalized = $2)
         ORDER BY i.created_at DESC, i.id LIMIT $3",
        user_id,
        email_normalized,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| invitation!(r)).collect())
}

/// What a link token refers to.
#[derive(Debug, Clone)]
pub enum TokenState {
    /// No such token (or not a coach link).
    Unknown,
    /// Already accepted, declined or cancelled.
    Used(Invitation),
    /// Past its expiry.
    Expired(Invitation),
    /// Can be accepted.
    Pending(Invitation),
}

/// Look a coach's link token up (read only; accepting uses [`consume`]).
///
/// # Errors
/// Database errors.
pub async fn find_token(
    conn: &mut PgConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TokenState, sqlx::Error> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Ok(TokenState::Unknown);
    }
    let row = sqlx::query!(
        "SELECT i.id, i.kind, i.created_by, i.email_normalized, i.access, i.expires_at, i.used_at,
                i.created_at, u.display_name, u.email
         FROM coach_invitations i JOIN users u ON u.id = i.created_by
         WHERE i.token_sha256 = $1 AND i.kind = 'coach'",
        token_hash(token)
    )
    .fetch_optional(conn)
    .await?;
    Ok(match row.map(|r| invitation!(r)) {
        None => TokenState::Unknown,
        Some(inv) if inv.used_at.is_some() => TokenState::Used(inv),
        Some(inv) if inv.expires_at <= now => TokenState::Expired(inv),
        Some(inv) => TokenState::Pending(inv),
    })
}

/// Which invitation to use, and who may use it.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A coach's link, by token (anyone signed in but its creator).
    Token(&'a str),
    /// An athlete's invitation, by id, addressed to this email (the coach).
    ForEmail(Uuid, &'a str),
    /// An invitation, by id, created by this user (cancelling their own).
    CreatedBy(Uuid, Uuid),
}

/// An invitation just used.
#[derive(Debug, Clone)]
pub struct Used {
    pub id: Uuid,
    pub kind: Kind,
    pub created_by: Uuid,
    pub email: Option<String>,
    pub access: Access,
}

/// Use a pending invitation once, atomically: `None` when it does not exist,
/// is not the caller's to use, was used already or has expired.
///
/// # Errors
/// Database errors.
pub async fn consume(
    conn: &mut PgConnection,
    target: Target<'_>,
    used_by: Uuid,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<Option<Used>, sqlx::Error> {
    let (id, hash, email, creator) = match target {
        Target::Token(token) => {
            if token.is_empty() || token.len() > MAX_TOKEN_LEN {
                return Ok(None);
            }
            (None, Some(token_hash(token)), None, None)
        }
        Target::ForEmail(id, email) => (Some(id), None, Some(email), None),
        Target::CreatedBy(id, user) => (Some(id), None, None, Some(user)),
    };
    let row = sqlx::query!(
        "UPDATE coach_invitations SET used_at = $5, used_by = $6, outcome = $7
         WHERE ($1::uuid IS NULL OR id = $1)
           AND ($2::bytea IS NULL OR (token_sha256 = $2 AND kind = 'coach'))
           AND ($3::text IS NULL OR (email_normalized = $3 AND kind = 'athlete'))
           AND ($4::uuid IS NULL OR created_by = $4)
           AND ($1::uuid IS NOT NULL OR $2::bytea IS NOT NULL)
           -- Nobody accepts their own invitation.
           AND ($7 <> 'accepted' OR created_by <> $6)
           AND used_at IS NULL AND expires_at > $5
         RETURNING id, kind, created_by, email_normalized, access",
        id,
        hash,
        email,
        creator,
        now,
        used_by,
        outcome.as_str()
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Used {
        id: r.id,
        kind: Kind::from_db(&r.kind),
        created_by: r.created_by,
        email: r.email_normalized,
        access: Access::from_db(&r.access),
    }))
}

// ------------------------------------------------------- source visibility

/// One source's coach visibility.
#[derive(Debug, Clone)]
pub struct SourceVisibility {
    pub source: String,
    pub coach_visible: bool,
    pub updated_at: DateTime<Utc>,
}

/// Every source's setting, by name.
///
/// # Errors
/// Database errors.
pub async fn source_visibility(
    conn: &mut PgConnection,
) -> Result<Vec<SourceVisibility>, sqlx::Error> {
    sqlx::query_as!(
        SourceVisibility,
        "SELECT source, coach_visible, updated_at FROM source_visibility ORDER BY source"
    )
    .fetch_all(conn)
    .await
}

/// Set one source's visibility. Returns whether it changed (`None`: unknown
/// source).
///
/// # Errors
/// Database errors.
pub async fn set_source_visibility(
    conn: &mut PgConnection,
    source: &str,
    coach_visible: bool,
) -> Result<Option<bool>, sqlx::Error> {
    let before = sqlx::query_scalar!(
        r#"WITH old AS (SELECT coach_visible FROM source_visibility WHERE source = $1 FOR UPDATE)
           UPDATE source_visibility v SET coach_visible = $2, updated_at = now()
           FROM old WHERE v.source = $1 RETURNING old.coach_visible AS "before!""#,
        source,
        coach_visible
    )
    .fetch_optional(conn)
    .await?;
    Ok(before.map(|b| b != coach_visible))
}

/// Athletes with at least one activity of `source` (whose coach summaries a
/// visibility change affects).
///
/// # Errors
/// Database errors.
pub async fn athletes_with_source(
    conn: &mut PgConnection,
    source: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT DISTINCT user_id FROM activities WHERE source = $1 ORDER BY user_id",
        source
    )
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_round_trips_and_refuses_other_words() {
        for access in Access::ALL {
            assert_eq!(Access::parse(access.as_str()), Some(access));
        }
        assert_eq!(Access::parse("admin"), None);
        assert_eq!(Access::parse(""), None);
    }

    #[test]
    fn tokens_are_256_bit_url_safe_and_distinct() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
