//! Activity upload: files, `.gz`, zip archives.
//!
//! Uploads stream in: a plain file is read into memory up to the per-file
//! limit; a zip archive (detected by content) is spooled to a temporary file
//! up to the zip limit, then read entry by entry with each entry's size
//! checked while it decompresses (zip bombs stop at the limit). Parsing runs
//! on the blocking pool; each file is stored in its own transaction, so one
//! bad file never leaves anything half-stored or stops the others.

use std::io::{Read as _, Write as _};

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::config::UploadLimits;
use crate::db::activities::{self, NewActivity, Source, Stored};
use crate::domain::ParsedActivity;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::forms::{is_htmx, render_with_status};
use crate::web::layout::PageContext;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/activities/upload")
            .route(web::get().to(upload_page))
            .route(web::post().to(upload)),
    );
}

use crate::auth::csrf::token_of as token;

/// What happened to one uploaded file (or zip entry).
#[derive(Debug, Clone)]
pub struct FileResult {
    pub name: String,
    pub outcome: Outcome,
}

/// The outcome shown to the user.
#[derive(Debug, Clone)]
pub enum Outcome {
    Imported { id: Uuid, title: String },
    AlreadyImported { id: Uuid },
    ProbableDuplicate { id: Uuid },
    Rejected { reason: String },
}

impl FileResult {
    fn rejected(name: &str, reason: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            outcome: Outcome::Rejected {
                reason: reason.into(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "activities/upload.html", blocks = ["results"])]
struct UploadPage {
    ctx: PageContext,
    csrf_token: String,
    results: Vec<FileResult>,
    skipped: usize,
    hint: String,
}

impl UploadPage {
    fn imported(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Imported { .. }))
            .count()
    }
}

async fn upload_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = UploadPage {
        ctx,
        csrf_token: token(&req),
        results: Vec::new(),
        skipped: 0,
        hint: limits_hint(state.settings.upload),
    };
    render_with_status(&page, StatusCode::OK)
}

fn limits_hint(limits: UploadLimits) -> String {
    format!(
        "Up to {} MB per file and {} MB per zip archive.",
        limits.max_file_bytes / 1_000_000,
        limits.max_zip_bytes / 1_000_000
    )
}

/// One uploaded part: either in memory, or spooled to disk (zip archives).
enum Received {
    Memory(Vec<u8>),
    Zip(tempfile::NamedTempFile),
    TooLarge,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Read one multipart field, enforcing the limits while it streams.
async fn receive(
    field: &mut actix_multipart::Field,
    limits: UploadLimits,
) -> Result<Received, AppError> {
    let mut memory: Vec<u8> = Vec::new();
    let mut spool: Option<tempfile::NamedTempFile> = None;
    let mut total: u64 = 0;
    while let Some(chunk) = field.next().await {
        let chunk = chunk
            .map_err(|err| AppError::BadRequest(format!("The upload was interrupted: {err}")))?;
        total += chunk.len() as u64;
        if let Some(file) = spool.as_mut() {
            if total > limits.max_zip_bytes {
                return Ok(Received::TooLarge);
            }
            file.write_all(&chunk).map_err(AppError::internal)?;
            continue;
        }
        memory.extend_from_slice(&chunk);
        if memory.len() >= ZIP_MAGIC.len() && memory.starts_with(ZIP_MAGIC) {
            let mut file = tempfile::NamedTempFile::new().map_err(AppError::internal)?;
            file.write_all(&memory).map_err(AppError::internal)?;
            memory = Vec::new();
            spool = Some(file);
            continue;
        }
        if total > limits.max_file_bytes {
            return Ok(Received::TooLarge);
        }
    }
    Ok(spool.map_or(Received::Memory(memory), Received::Zip))
}

/// A file ready to store, made on the blocking pool.
struct Prepared {
    name: String,
    parsed: Result<ParsedActivity, String>,
    metrics: Option<crate::analytics::summary::ActivityMetrics>,
    sha256: Vec<u8>,
    gzip: Vec<u8>,
    size: i64,
}

fn prepare(
    name: String,
    bytes: &[u8],
    limits: UploadLimits,
    history: &[crate::db::thresholds::Entry],
) -> Prepared {
    let parsed =
        crate::import::parse_with_limit(&name, bytes, limits.max_file_bytes * 4).map_err(|err| {
            let mut text = err.to_string();
            if let Some(first) = text.get(0..1) {
                let upper = first.to_uppercase();
                text.replace_range(0..1, &upper);
            }
            if !text.ends_with('.') {
                text.push('.');
            }
            text
        });
    let sha256 = Sha256::digest(bytes).to_vec();
    let gzip = if bytes.starts_with(&[0x1F, 0x8B]) {
        bytes.to_vec()
    } else {
        crate::web::compress::gzip(bytes).unwrap_or_default()
    };
    let metrics = parsed
        .as_ref()
        .ok()
        .map(|a| crate::training::metrics_for(a, history));
    Prepared {
        name,
        parsed,
        metrics,
        sha256,
        gzip,
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
    }
}

/// Whether a zip entry looks like an activity file (by name).
fn is_activity_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".fit", ".gpx", ".tcx", ".fit.gz", ".gpx.gz", ".tcx.gz"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Read a zip archive on the blocking pool, sending each activity entry (or
/// the reason it was refused) down `tx`. Returns how many other entries were skipped.
fn read_zip(
    file: &std::fs::File,
    archive_name: &str,
    limits: UploadLimits,
    history: &[crate::db::thresholds::Entry],
    tx: &mpsc::Sender<Result<Prepared, FileResult>>,
) -> Result<usize, String> {
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|err| format!("{archive_name} is not a readable zip archive: {err}."))?;
    if archive.len() > limits.max_zip_entries {
        return Err(format!(
            "{archive_name} holds {} entries; at most {} are accepted per archive. Split it and upload the parts.",
            archive.len(),
            limits.max_zip_entries
        ));
    }
    let mut skipped = 0;
    let mut decompressed_total: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(err) => {
                let _ = tx.blocking_send(Err(FileResult::rejected(
                    &format!("{archive_name} entry {}", index + 1),
                    format!("This archive entry cannot be read: {err}."),
                )));
                continue;
            }
        };
        let entry_name: String = entry
            .name()
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default();
        if entry.is_dir() || !is_activity_name(&entry_name) {
            skipped += 1;
            continue;
        }
        let shown = format!("{archive_name}: {entry_name}");
        if entry.size() > limits.max_file_bytes {
            let _ = tx.blocking_send(Err(FileResult::rejected(
                &shown,
                format!(
                    "This file is larger than the {} MB limit.",
                    limits.max_file_bytes / 1_000_000
                ),
            )));
            continue;
        }
        let mut bytes = Vec::new();
        // Never trust the declared size: stop reading past the limit.
        let read = (&mut entry)
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut bytes);
        if let Err(err) = read {
            let _ = tx.blocking_send(Err(FileResult::rejected(
                &shown,
                format!("This archive entry is corrupt: {err}."),
            )));
            continue;
        }
        if bytes.len() as u64 > limits.max_file_bytes {
            let _ = tx.blocking_send(Err(FileResult::rejected(
                &shown,
                format!(
                    "This file decompresses to more than the {} MB limit.",
                    limits.max_file_bytes / 1_000_000
                ),
            )));
            continue;
        }
        decompressed_total += bytes.len() as u64;
        if decompressed_total > limits.max_zip_bytes.saturating_mul(4) {
            return Err(format!(
                "{archive_name} decompresses to more than four times the archive limit; it was stopped there."
            ));
        }
        let base = entry_name
            .rsplit('/')
            .next()
            .unwrap_or(&entry_name)
            .to_owned();
        if tx
            .blocking_send(Ok(prepare(base, &bytes, limits, history)))
            .is_err()
        {
            break;
        }
    }
    Ok(skipped)
}

/// A name for an activity whose file has none: "Morning run".
fn default_name(parsed: &ParsedActivity) -> String {
    let hour = (parsed.start
        + chrono::TimeDelta::seconds(i64::from(parsed.utc_offset_s.unwrap_or(0))))
    .format("%H")
    .to_string()
    .parse::<u32>()
    .unwrap_or(12);
    let part = match hour {
        5..=11 => "Morning",
        12..=16 => "Afternoon",
        17..=20 => "Evening",
        _ => "Night",
    };
    format!(
        "{part} {}",
        crate::web::format::sport_label(parsed.sport.as_str()).to_lowercase()
    )
}

async fn store(state: &AppState, user_id: Uuid, prepared: Prepared) -> FileResult {
    let parsed = match prepared.parsed {
        Ok(parsed) => parsed,
        Err(reason) => return FileResult::rejected(&prepared.name, reason),
    };
    let name: String = parsed
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| default_name(&parsed))
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let file_name: String = prepared
        .name
        .chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect();
    let result: Result<Stored, sqlx::Error> = async {
        let mut tx = state.db.pool().begin().await?;
        let stored = activities::insert(
            &mut tx,
            &NewActivity {
                user_id,
                source: Source::Upload,
                external_id: None,
                name: &name,
                parsed: &parsed,
                file_sha256: Some(&prepared.sha256),
                original: Some((&file_name, &prepared.gzip, prepared.size)),
                metrics: prepared.metrics.as_ref(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }
    .await;
    let outcome = match result {
        Ok(Stored::Imported(id)) => Outcome::Imported { id, title: name },
        Ok(Stored::SameFile(id)) => Outcome::AlreadyImported { id },
        Ok(Stored::ProbableDuplicate(id)) => Outcome::ProbableDuplicate { id },
        Err(err) => {
            tracing::error!(error = %err, file = %prepared.name, "could not store an activity");
            Outcome::Rejected {
                reason: "It could not be saved because of a problem on our side; nothing was stored. Try again later."
                    .to_owned(),
            }
        }
    };
    FileResult {
        name: prepared.name,
        outcome,
    }
}

/// `POST /activities/upload` (multipart, field `files`, repeatable).
async fn upload(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    mut payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let limits = state.settings.upload;
    // The thresholds in force on each activity's date give its training load.
    let mut conn = state.db.conn().await?;
    let history = crate::db::thresholds::history(&mut conn, user.id()).await;
    let history = std::sync::Arc::new(conn.check(history)?);
    drop(conn);
    let mut results = Vec::new();
    let mut skipped = 0;
    let mut files_seen = 0;
    while let Some(field) = payload.next().await {
        let mut field = field
            .map_err(|err| AppError::BadRequest(format!("The upload could not be read: {err}")))?;
        if field.name() != Some("files") {
            // Drain other fields (e.g. csrf_token) without keeping them.
            while let Some(chunk) = field.next().await {
                let _ = chunk;
            }
            continue;
        }
        let name: String = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_owned))
            .unwrap_or_default()
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect();
        if name.is_empty() {
            while let Some(chunk) = field.next().await {
                let _ = chunk;
            }
            continue;
        }
        files_seen += 1;
        match receive(&mut field, limits).await? {
            Received::TooLarge => {
                while let Some(chunk) = field.next().await {
                    let _ = chunk;
                }
                results.push(FileResult::rejected(
                    &name,
                    format!(
                        "This file is larger than the limit ({} MB per file, {} MB per zip archive).",
                        limits.max_file_bytes / 1_000_000,
                        limits.max_zip_bytes / 1_000_000
                    ),
                ));
            }
            Received::Memory(bytes) => {
                let history = std::sync::Arc::clone(&history);
                let prepared = web::block(move || prepare(name, &bytes, limits, &history))
                    .await
                    .map_err(AppError::internal)?;
                results.push(store(&state, user.id(), prepared).await);
            }
            Received::Zip(file) => {
                let (tx, mut rx) = mpsc::channel::<Result<Prepared, FileResult>>(4);
                let archive_name = name.clone();
                let history = std::sync::Arc::clone(&history);
                let reader = web::block(move || {
                    let handle = file.reopen().map_err(|err| err.to_string())?;
                    read_zip(&handle, &archive_name, limits, &history, &tx)
                });
                let state_ref = &state;
                let user_id = user.id();
                let consume = async {
                    let mut out = Vec::new();
                    while let Some(item) = rx.recv().await {
                        out.push(match item {
                            Ok(prepared) => store(state_ref, user_id, prepared).await,
                            Err(rejected) => rejected,
                        });
                    }
                    out
                };
                let (read, stored) = futures_util::future::join(reader, consume).await;
                results.extend(stored);
                match read.map_err(AppError::internal)? {
                    Ok(n) => skipped += n,
                    Err(reason) => results.push(FileResult::rejected(&name, reason)),
                }
            }
        }
    }
    if files_seen == 0 {
        results.push(FileResult::rejected(
            "(nothing)",
            "Choose at least one FIT, GPX, TCX or zip file to upload.",
        ));
    }
    let page = UploadPage {
        ctx,
        csrf_token: token(&req),
        results,
        skipped,
        hint: limits_hint(limits),
    };
    if is_htmx(&req) {
        render_with_status(&page.as_results(), StatusCode::OK)
    } else {
        render_with_status(&page, StatusCode::OK)
    }
}
