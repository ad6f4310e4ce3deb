//! `GET /settings/account/export`: a zip of everything the user owns —
//! profile, an activity index (CSV), and every activity file (the original
//! upload, or a GPX made from the stored samples).
//!
//! The archive is written to a temporary file on the blocking pool, one
//! activity at a time, then streamed to the browser, so memory stays flat
//! whatever the history's size.

use std::fmt::Write as _;
use std::io::{Read as _, Seek as _, Write as _};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::stream;

use crate::auth::CurrentUser;
use crate::db::activities;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::activities::attachment;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/settings/account/export").route(web::get().to(export)));
}

fn csv_field(value: &str) -> String {
    let needs_quotes =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(['=', '+', '-', '@']);
    // A leading quote keeps spreadsheet formulas from running.
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if needs_quotes {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn opt(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.1}"))
}

async fn export(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let mut conn = state.db.conn().await?;
    let listed = activities::export_rows(&mut conn, user.id()).await;
    let rows = conn.check(listed)?;
    drop(conn);

    let file = tempfile::tempfile().map_err(AppError::internal)?;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut writer = zip::ZipWriter::new(file);

    let profile = serde_json::json!({
        "email": user.user.email,
        "display_name": user.user.display_name,
        "time_zone": user.user.time_zone,
        "units": user.user.units,
        "roles": user.user.roles,
        "exported_at": state.clock.now(),
    });
    let mut index = String::from(
        "id,start_time_utc,name,sport,duration_s,distance_m,ascent_m,avg_hr,avg_power_w,source,file,notes\n",
    );
    let mut files: Vec<(String, Vec<u8>, bool)> = Vec::new();
    let mut written = 0_usize;
    for row in &rows {
        let mut conn = state.db.conn().await?;
        let payload = activities::export_payload(&mut conn, user.id(), row.id).await;
        let (original, activity) = conn.check(payload)?;
        drop(conn);
        let date = row.start_time.format("%Y-%m-%d");
        let (path, bytes, already_compressed) = match (original, activity) {
            (Some(gzip), _) => {
                let name = row
                    .file_name
                    .clone()
                    .unwrap_or_else(|| format!("{}.bin", row.id));
                let name = if name.to_ascii_lowercase().ends_with(".gz") {
                    name
                } else {
                    format!("{name}.gz")
                };
                (
                    format!("activities/{date}-{}-{}", row.id.simple(), sanitize(&name)),
                    gzip,
                    true,
                )
            }
            (None, Some(activity)) => match crate::web::export::activity_gpx(&activity) {
                Ok((_, gpx)) => (
                    format!("activities/{date}-{}.gpx", row.id.simple()),
                    gpx.into_bytes(),
                    false,
                ),
                Err(_) => (String::new(), Vec::new(), false),
            },
            (None, None) => (String::new(), Vec::new(), false),
        };
        let _ = writeln!(
            index,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            row.id,
            row.start_time.to_rfc3339(),
            csv_field(&row.name),
            row.sport,
            opt(row.timer_s),
            opt(row.distance_m),
            opt(row.ascent_m),
            opt(row.avg_hr),
            opt(row.avg_power_w),
            row.source,
            csv_field(&path),
            csv_field(&row.notes),
        );
        if !path.is_empty() {
            files.push((path, bytes, already_compressed));
        }
        // Write in batches on the blocking pool to keep memory bounded.
        if files.len() >= 50 {
            let batch = std::mem::take(&mut files);
            writer = web::block(move || write_files(writer, batch, options, stored))
                .await
                .map_err(AppError::internal)?
                .map_err(AppError::internal)?;
        }
        written += 1;
    }
    let batch = std::mem::take(&mut files);
    let mut file = web::block(move || -> Result<std::fs::File, zip::result::ZipError> {
        let mut writer = write_files(writer, batch, options, stored)?;
        writer.start_file("profile.json", options)?;
        writer.write_all(serde_json::to_string_pretty(&profile).unwrap_or_default().as_bytes())?;
        writer.start_file("activities.csv", options)?;
        writer.write_all(index.as_bytes())?;
        writer.start_file("README.txt", options)?;
        writer.write_all(
            b"Your Pierre export.\n\nprofile.json: your account settings.\nactivities.csv: one line per activity.\n\
activities/: each activity's file as you uploaded it (gzipped), or a GPX made from the recorded samples.\n",
        )?;
        writer.finish()
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    let size = file
        .seek(std::io::SeekFrom::End(0))
        .map_err(AppError::internal)?;
    file.rewind().map_err(AppError::internal)?;
    tracing::info!(activities = written, bytes = size, "account export");

    let body = stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buffer = vec![0_u8; 64 * 1024];
        match file.read(&mut buffer) {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((
                    Ok::<_, std::io::Error>(web::Bytes::from(buffer)),
                    Some(file),
                ))
            }
            Err(err) => Some((Err(err), None)),
        }
    });
    let name = format!("pierre-export-{}.zip", state.clock.now().format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/zip"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(attachment(&name))
        .no_chunking(size)
        .streaming(body))
}

fn write_files(
    mut writer: zip::ZipWriter<std::fs::File>,
    files: Vec<(String, Vec<u8>, bool)>,
    deflated: zip::write::SimpleFileOptions,
    stored: zip::write::SimpleFileOptions,
) -> Result<zip::ZipWriter<std::fs::File>, zip::result::ZipError> {
    for (path, bytes, already_compressed) in files {
        writer.start_file(path, if already_compressed { stored } else { deflated })?;
        writer.write_all(&bytes)?;
    }
    Ok(writer)
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect()
}
