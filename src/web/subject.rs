//! Whose training a page shows, and who is looking.
//!
//! The athlete pages (dashboard, calendar, activity list and activity page)
//! are written once against a [`Subject`]: the athlete whose data it is, who
//! is looking (the athlete, or a linked coach with summary or full access),
//! the summary row to read ([`Scope`]), the activity sources the viewer may
//! see, and the base path of links. The athlete's own routes build
//! [`Subject::own`] from the session (no query); the coach routes under
//! `/coach/athletes/{id}` take a [`CoachSubject`], which reads the link on
//! every request (one statement, [`crate::db::subjects::coach_view`]): a
//! revoked link answers 404 on the coach's next request.
//!
//! Refusals: anonymous → sign in; signed in without the coach role → 403
//! (like `/admin` for non-admins); a coach not linked to the athlete (never
//! linked, revoked, or an id that is not a user) → 404, so ids of other
//! people's athletes reveal nothing.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use uuid::Uuid;

use crate::auth::{CurrentUser, Role};
use crate::db::coaching::Access;
use crate::db::subjects::Withheld;
use crate::db::summaries::Scope;
use crate::error::AppError;
use crate::state::AppState;

/// Whose training a page shows and what the viewer may see of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The athlete whose data it is.
    pub athlete: Uuid,
    /// The athlete's display name.
    pub name: String,
    /// `None`: the athlete themself; otherwise a coach with this access.
    pub access: Option<Access>,
    /// Prefix of links to the subject's pages: `""` for the athlete,
    /// `/coach/athletes/{id}` for a coach.
    pub base: String,
    /// Sources the viewer may see; `None` for all (the athlete).
    sources: Option<Vec<String>>,
}

impl Subject {
    /// The signed-in athlete looking at their own training.
    #[must_use]
    pub fn own(user: &CurrentUser) -> Self {
        Self {
            athlete: user.id(),
            name: user.user.display_name.clone(),
            access: None,
            base: String::new(),
            sources: None,
        }
    }

    /// A linked coach looking at `athlete`.
    #[must_use]
    pub fn coach(athlete: Uuid, name: String, access: Access, sources: Vec<String>) -> Self {
        Self {
            athlete,
            name,
            access: Some(access),
            base: format!("/coach/athletes/{athlete}"),
            sources: Some(sources),
        }
    }

    /// Whether the athlete is looking at their own data.
    #[must_use]
    pub const fn is_own(&self) -> bool {
        self.access.is_none()
    }

    /// Whether streams, charts, routes and original files may be shown: the
    /// athlete, or a coach with full access.
    #[must_use]
    pub const fn full(&self) -> bool {
        matches!(self.access, None | Some(Access::Full))
    }

    /// The summary row the viewer reads.
    #[must_use]
    pub const fn scope(&self) -> Scope {
        if self.is_own() {
            Scope::All
        } else {
            Scope::Coach
        }
    }

    /// The sources the viewer may see, for `source = ANY($n)` filters
    /// (`None`: every source).
    #[must_use]
    pub fn sources(&self) -> Option<&[String]> {
        self.sources.as_deref()
    }

    /// Whether an activity of `source` may be shown to the viewer.
    #[must_use]
    pub fn may_see(&self, source: &str) -> bool {
        self.sources
            .as_ref()
            .is_none_or(|s| s.iter().any(|v| v == source))
    }

    /// A link to one of the subject's pages: `path` is the athlete's own path
    /// (`/activities/…`), prefixed for coaches.
    #[must_use]
    pub fn href(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The banner shown on every coach view; `None` for the athlete.
    #[must_use]
    pub fn banner(&self) -> Option<String> {
        self.access.map(|access| {
            let level = match access {
                Access::Summary => "summary access",
                Access::Full => "full access",
            };
            format!("Viewing {}'s training as coach ({level})", self.name)
        })
    }
}

/// "3 Strava activities are not shown: …" for each withheld source.
#[must_use]
pub fn withheld_notes(withheld: &[Withheld]) -> Vec<String> {
    withheld
        .iter()
        .filter(|w| w.count > 0)
        .map(|w| {
            let (label, why) = match w.source.as_str() {
                "strava" => (
                    "Strava",
                    "Strava's terms allow its data to be shown only to the athlete",
                ),
                "garmin" => (
                    "Garmin",
                    "the administrator does not let coaches see Garmin data",
                ),
                "upload" => (
                    "uploaded",
                    "the administrator does not let coaches see uploaded files",
                ),
                _ => (
                    w.source.as_str(),
                    "the administrator does not let coaches see this source",
                ),
            };
            let noun = if w.count == 1 {
                "activity is"
            } else {
                "activities are"
            };
            format!("{} {label} {noun} not shown: {why}.", w.count)
        })
        .collect()
}

/// What every subject-aware template reads: the subject's links, the banner,
/// whether controls and stream-derived parts are shown, withheld notes.
#[derive(Debug, Clone, Default)]
pub struct SubjectView {
    /// Prefix of links (`""` or `/coach/athletes/{id}`).
    pub base: String,
    /// The subject's activity list.
    pub activities: String,
    /// The athlete's own view: edit, upload and settings controls shown.
    pub own: bool,
    /// Streams, charts, routes and original files shown.
    pub full: bool,
    pub name: String,
    pub banner: Option<String>,
    /// One sentence per withheld source (coach views only).
    pub withheld: Vec<String>,
}

impl SubjectView {
    /// The view of `subject` with `withheld` notes.
    #[must_use]
    pub fn of(subject: &Subject, withheld: &[Withheld]) -> Self {
        Self {
            base: subject.base.clone(),
            activities: subject.href("/activities"),
            own: subject.is_own(),
            full: subject.full(),
            name: subject.name.clone(),
            banner: subject.banner(),
            withheld: if subject.is_own() {
                Vec::new()
            } else {
                withheld_notes(withheld)
            },
        }
    }
}

/// A signed-in coach and the linked athlete named by the `{id}` path segment.
#[derive(Debug, Clone)]
pub struct CoachSubject {
    pub viewer: CurrentUser,
    pub subject: Subject,
}

impl FromRequest for CoachSubject {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        let athlete = req
            .match_info()
            .get("id")
            .and_then(|raw| Uuid::parse_str(raw).ok());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let viewer = user.await?.require(Role::Coach)?;
            let athlete = athlete.ok_or(AppError::NotFound)?;
            let state =
                state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no application state")))?;
            let mut conn = state.db.conn().await?;
            let found = crate::db::subjects::coach_view(&mut conn, viewer.id(), athlete).await;
            let view = conn.check(found)?.ok_or(AppError::NotFound)?;
            Ok(Self {
                subject: Subject::coach(athlete, view.name, view.access, view.sources),
                viewer,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coach_subjects_see_only_their_sources_and_say_so() {
        let id = Uuid::nil();
        let s = Subject::coach(id, "Ana".into(), Access::Summary, vec!["upload".into()]);
        assert!(!s.is_own());
        assert!(!s.full());
        assert_eq!(s.scope(), Scope::Coach);
        assert!(s.may_see("upload"));
        assert!(!s.may_see("strava"));
        assert_eq!(
            s.href("/calendar"),
            format!("/coach/athletes/{id}/calendar")
        );
        assert_eq!(
            s.banner().unwrap(),
            "Viewing Ana's training as coach (summary access)"
        );
        let notes = withheld_notes(&[Withheld {
            source: "strava".into(),
            count: 3,
        }]);
        assert_eq!(
            notes,
            vec![
                "3 Strava activities are not shown: Strava's terms allow its data to be shown only to the athlete."
            ]
        );
    }
}
