//! Activity files end to end: upload (files, .gz, zip), duplicates, refusals
//! that leave nothing behind, the list, the activity page, downloads, edit,
//! delete, and another user's activities answering 404.

use std::io::Write as _;

use reqwest::multipart::{Form, Part};

use crate::accounts::signed_in;
use crate::support::{Spawn, TestApp, csrf_in, html, new_client, text_of};

fn fixture(name: &str) -> Vec<u8> {
    // Fixtures live in one folder per format: fit/, gpx/, tcx/.
    let folder = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/activities")
        .join(folder)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Upload files (name, bytes) as htmx does; returns (status, outcomes by file name).
async fn upload(
    app: &TestApp,
    client: &reqwest::Client,
    files: Vec<(&str, Vec<u8>)>,
) -> (u16, Vec<(String, String, String)>) {
    let page = client
        .get(app.url("/activities/upload"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page).expect("the upload page carries a token");
    let mut form = Form::new();
    for (name, bytes) in files {
        form = form.part("files", Part::bytes(bytes).file_name(name.to_owned()));
    }
    let res = client
        .post(app.url("/activities/upload"))
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    let doc = html(&body);
    let row = scraper::Selector::parse("tr.upload-result").unwrap();
    let file = scraper::Selector::parse(".upload-file").unwrap();
    let badge = scraper::Selector::parse("[data-outcome]").unwrap();
    let outcomes = doc
        .select(&row)
        .map(|tr| {
            let name = tr
                .select(&file)
                .next()
                .map(|e| e.text().collect::<String>())
                .unwrap_or_default();
            let b = tr.select(&badge).next().unwrap();
            let outcome = b.value().attr("data-outcome").unwrap().to_owned();
            let text = tr
                .text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            (name.trim().to_owned(), outcome, text)
        })
        .collect();
    (status, outcomes)
}

async fn counts(app: &TestApp) -> [i64; 4] {
    let mut conn = app.db.acquire().await.unwrap();
    pierre::db::activities::table_counts(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_power_ride_uploads_and_its_page_shows_summary_charts_and_downloads() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let original = fixture("Edge810-Vector-2013-08-16-15-35-10.fit");
    let (status, outcomes) = upload(&app, &client, vec![("Edge810.fit", original.clone())]).await;
    assert_eq!(status, 200);
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].1, "imported", "{outcomes:?}");
    assert_eq!(counts(&app).await, [1, counts(&app).await[1], 1, 1]);

    let row = sqlx::query!(
        "SELECT id, sport, avg_power_w, timer_s, has_route, file_format FROM activities"
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(row.sport, "cycling");
    assert!(row.avg_power_w.unwrap() > 100.0);
    assert!(row.has_route);
    assert_eq!(row.file_format.as_deref(), Some("fit"));

    let page = client
        .get(app.url(&format!("/activities/{}", row.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    let doc = html(&body);
    let titles: Vec<String> = doc
        .select(&scraper::Selector::parse(".chart-card .card-title").unwrap())
        .map(|e| e.text().collect())
        .collect();
    for expected in ["Heart rate", "Power", "Speed", "Cadence", "Elevation"] {
        assert!(
            titles.iter().any(|t| t == expected),
            "{expected} chart missing: {titles:?}"
        );
    }
    assert!(body.contains("class=\"route-svg\""), "route drawn");
    let polyline = doc
        .select(&scraper::Selector::parse(".chart-line").unwrap())
        .next()
        .unwrap();
    let points = polyline.value().attr("points").unwrap().split(' ').count();
    assert!(
        points <= pierre::charts::MAX_POINTS,
        "downsampled to {points}"
    );
    assert!(
        text_of(&doc, "#activity-summary")
            .unwrap()
            .contains("Average power")
    );

    // The original, byte for byte.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let session = client.get(app.url("/dashboard")).send().await.unwrap();
    drop(session);
    let downloaded = client
        .get(app.url(&format!("/activities/{}/original", row.id)))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(downloaded.as_ref(), original.as_slice());
    drop(raw);
    // GPX export re-imports to the same start and sample count.
    let gpx = client
        .get(app.url(&format!("/activities/{}/export.gpx", row.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(gpx.status(), 200);
    assert!(
        gpx.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".gpx")
    );
    let gpx = gpx.bytes().await.unwrap();
    let again = pierre::import::parse("export.gpx", &gpx).unwrap();
    let first = pierre::import::parse("x.fit", &original).unwrap();
    assert_eq!(again.start, first.start);
    assert!(
        again.streams.t.len()
            >= first
                .streams
                .lat
                .as_ref()
                .unwrap()
                .iter()
                .filter(|v| v.is_finite())
                .count()
                / 2
    );
}

#[tokio::test]
async fn the_same_file_twice_is_already_imported_and_gz_files_work() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let gpx = fixture("cerknicko-jezero.gpx");
    let (_, first) = upload(&app, &client, vec![("lake.gpx", gpx.clone())]).await;
    assert_eq!(first[0].1, "imported");
    let (_, second) = upload(&app, &client, vec![("lake.gpx", gpx.clone())]).await;
    assert_eq!(second[0].1, "duplicate");
    assert!(second[0].2.contains("Already imported"), "{second:?}");
    // The same activity from another file (gzipped copy): probable duplicate by start time.
    let (_, third) = upload(&app, &client, vec![("lake.gpx.gz", gzip(&gpx))]).await;
    assert_eq!(third[0].1, "duplicate");
    assert!(third[0].2.contains("Probable duplicate"), "{third:?}");
    assert_eq!(counts(&app).await[0], 1);
    // A .gz of a new activity imports.
    let (_, tcx) = upload(
        &app,
        &client,
        vec![("run.tcx.gz", gzip(&fixture("test.tcx")))],
    )
    .await;
    assert_eq!(tcx[0].1, "imported", "{tcx:?}");
}

#[tokio::test]
async fn the_indoor_file_imports_without_a_route() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (_, outcomes) = upload(
        &app,
        &client,
        vec![("indoor.fit", fixture("sample-activity-indoor-trainer.fit"))],
    )
    .await;
    assert_eq!(outcomes[0].1, "imported", "{outcomes:?}");
    let id: uuid::Uuid = sqlx::query_scalar!("SELECT id FROM activities WHERE NOT has_route")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let body = client
        .get(app.url(&format!("/activities/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("without GPS"));
    assert!(!body.contains("route-svg"));
}

#[tokio::test]
async fn a_zip_with_good_duplicate_broken_and_other_entries_reports_each() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let run = fixture("garmin-fenix-5-run.fit");
    let archive = zip_of(&[
        ("export/activities/1.fit", run.clone()),
        ("export/activities/1-again.fit", run.clone()),
        ("export/activities/2.tcx.gz", gzip(&fixture("test.tcx"))),
        (
            "export/activities/broken.fit",
            fixture("activity-unexpected-eof.fit"),
        ),
        ("export/activities/settings.fit", fixture("Settings.fit")),
        (
            "export/activities/route.gpx",
            fixture("cerknicko-without-times.gpx"),
        ),
        ("export/profile.csv", b"a,b\n1,2\n".to_vec()),
        ("export/media/photo.jpg", vec![0xFF, 0xD8, 0xFF]),
    ]);
    let (status, outcomes) = upload(&app, &client, vec![("strava-export.zip", archive)]).await;
    assert_eq!(status, 200);
    let by = |suffix: &str| {
        outcomes
            .iter()
            .find(|o| o.0.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix}: {outcomes:?}"))
            .clone()
    };
    assert_eq!(by("1.fit").1, "imported");
    assert_eq!(by("1-again.fit").1, "duplicate");
    assert_eq!(by("2.tcx.gz").1, "imported");
    assert_eq!(by("broken.fit").1, "rejected");
    assert!(
        by("broken.fit")
            .2
            .to_lowercase()
            .contains("ends unexpectedly"),
        "{:?}",
        by("broken.fit")
    );
    assert_eq!(by("settings.fit").1, "rejected");
    assert!(by("settings.fit").2.contains("not a recorded activity"));
    assert!(by("route.gpx").2.contains("route"), "{:?}", by("route.gpx"));
    assert_eq!(
        outcomes.len(),
        6,
        "non-activity entries are skipped, not reported: {outcomes:?}"
    );
    assert_eq!(counts(&app).await[0], 2);
}

#[tokio::test]
async fn broken_and_hostile_files_leave_every_table_unchanged() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let before = counts(&app).await;
    let mut truncated_gpx = fixture("cerknicko-jezero.gpx");
    truncated_gpx.truncate(truncated_gpx.len() / 2);
    let corpus: Vec<(&str, Vec<u8>)> = vec![
        ("empty.fit", Vec::new()),
        ("garbage.fit", vec![0xAB; 4096]),
        ("eof.fit", fixture("activity-unexpected-eof.fit")),
        ("settings.fit", fixture("Settings.fit")),
        ("half.gpx", truncated_gpx),
        ("notes.txt", b"just some text".to_vec()),
        ("script.gpx", b"<script>alert(1)</script>".to_vec()),
        ("laughs.gpx", br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><gpx><trk><name>&lol2;</name></trk></gpx>"#.to_vec()),
        ("bomb.gpx.gz", gzip(&vec![b' '; 20_000_000])),
        ("double.gz", gzip(&gzip(b"x"))),
        ("not-a-zip.zip", b"PK\x03\x04 this is not really a zip".to_vec()),
    ];
    let expected = corpus.len();
    let (status, outcomes) = upload(&app, &client, corpus).await;
    assert_eq!(status, 200);
    assert_eq!(outcomes.len(), expected, "{outcomes:?}");
    for (name, outcome, text) in &outcomes {
        assert_eq!(outcome, "rejected", "{name}: {text}");
        assert!(
            text.len() > name.len() + 20,
            "{name}: the reason says something: {text}"
        );
        assert!(!text.contains("<script>"), "escaped");
    }
    assert_eq!(counts(&app).await, before, "nothing half-stored");
}

#[tokio::test]
async fn upload_limits_are_enforced_while_streaming() {
    let app = TestApp::spawn_with(Spawn {
        vars: vec![
            ("UPLOAD_MAX_FILE_BYTES", "100000".into()),
            ("UPLOAD_MAX_ZIP_BYTES", "400000".into()),
            ("UPLOAD_MAX_ZIP_ENTRIES", "3".into()),
        ],
        ..Spawn::default()
    })
    .await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    // A file over the per-file limit.
    let (_, big) = upload(
        &app,
        &client,
        vec![(
            "edge.fit",
            fixture("Edge810-Vector-2013-08-16-15-35-10.fit"),
        )],
    )
    .await;
    assert_eq!(big[0].1, "rejected");
    assert!(big[0].2.contains("larger than the limit"), "{big:?}");
    // A zip entry that decompresses past the limit (a small zip bomb).
    let bomb = zip_of(&[("a.gpx", vec![b' '; 5_000_000])]);
    assert!(bomb.len() < 100_000);
    let (_, out) = upload(&app, &client, vec![("bomb.zip", bomb)]).await;
    assert_eq!(out[0].1, "rejected", "{out:?}");
    assert!(out[0].2.contains("limit"), "{out:?}");
    // Too many entries.
    let many = zip_of(&[
        ("1.gpx", vec![1]),
        ("2.gpx", vec![2]),
        ("3.gpx", vec![3]),
        ("4.gpx", vec![4]),
    ]);
    let (_, out) = upload(&app, &client, vec![("many.zip", many)]).await;
    assert!(out.iter().any(|o| o.2.contains("at most 3")), "{out:?}");
    // A zip over the archive limit.
    let large = zip_of(&[("x.bin", {
        // xorshift noise: incompressible, so the archive really is ~1 MB.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..1_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    })]);
    assert!(large.len() > 400_000);
    let (_, out) = upload(&app, &client, vec![("large.zip", large)]).await;
    assert_eq!(out[0].1, "rejected", "{out:?}");
    assert_eq!(counts(&app).await[0], 0);
}

#[tokio::test]
async fn the_list_filters_sorts_pages_and_totals() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let empty = client
        .get(app.url("/activities"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(empty.contains("No activities yet"));
    assert!(empty.contains("/activities/upload"));
    upload(
        &app,
        &client,
        vec![
            (
                "ride.fit",
                fixture("Edge810-Vector-2013-08-16-15-35-10.fit"),
            ),
            ("run.fit", fixture("garmin-fenix-5-run.fit")),
            ("lake.gpx", fixture("cerknicko-jezero.gpx")),
        ],
    )
    .await;
    let all = client
        .get(app.url("/activities"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = html(&all);
    assert_eq!(
        doc.select(&scraper::Selector::parse("#activity-results tbody tr").unwrap())
            .count(),
        3
    );
    assert!(
        text_of(&doc, "#list-totals")
            .unwrap()
            .starts_with("3 activities")
    );

    let rides = client
        .get(app.url("/activities?sport=cycling"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = html(&rides);
    assert_eq!(
        doc.select(&scraper::Selector::parse("#activity-results tbody tr").unwrap())
            .count(),
        1
    );
    assert!(
        text_of(&doc, "#list-totals")
            .unwrap()
            .starts_with("1 activities")
    );
    // htmx gets only the results block.
    let fragment = client
        .get(app.url("/activities?sort=distance"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        fragment
            .trim_start()
            .starts_with("<section id=\"activity-results\"")
    );
    // Bad dates get a message, not a 500.
    let res = client
        .get(app.url("/activities?from=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Enter a date like"));
    let none = client
        .get(app.url("/activities?q=nothing-matches-this"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(none.contains("Nothing matches these filters"));
}

#[tokio::test]
async fn another_users_activity_answers_like_a_missing_one() {
    let app = TestApp::spawn().await;
    let (ana, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (ben, _) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    upload(
        &app,
        &ana,
        vec![("run.fit", fixture("garmin-fenix-5-run.fit"))],
    )
    .await;
    let id: uuid::Uuid = sqlx::query_scalar!("SELECT id FROM activities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let missing = uuid::Uuid::now_v7();
    let ben_token = app.csrf_token(&ben).await;
    for target in [id, missing] {
        for path in [
            format!("/activities/{target}"),
            format!("/activities/{target}/original"),
            format!("/activities/{target}/export.gpx"),
        ] {
            assert_eq!(
                ben.get(app.url(&path)).send().await.unwrap().status(),
                404,
                "{path}"
            );
        }
        let res = ben
            .post(app.url(&format!("/activities/{target}/delete")))
            .form(&[("csrf_token", ben_token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        let res = ben
            .post(app.url(&format!("/activities/{target}")))
            .form(&[
                ("csrf_token", ben_token.as_str()),
                ("name", "mine now"),
                ("sport", "running"),
                ("notes", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
    assert_eq!(
        ben.get(app.url("/activities/not-a-uuid"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(counts(&app).await[0], 1);
    let name: String = sqlx::query_scalar!("SELECT name FROM activities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_ne!(name, "mine now");
}

#[tokio::test]
async fn editing_and_deleting_an_activity() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    upload(
        &app,
        &client,
        vec![("run.fit", fixture("garmin-fenix-5-run.fit"))],
    )
    .await;
    let id: uuid::Uuid = sqlx::query_scalar!("SELECT id FROM activities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url(&format!("/activities/{id}")))
        .header("HX-Request", "true")
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", ""),
            ("sport", "spaceflight"),
            ("notes", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.trim_start().starts_with("<form"));
    assert!(body.contains("Name is required") && body.contains("Choose a sport"));
    let res = client
        .post(app.url(&format!("/activities/{id}")))
        .header("HX-Request", "true")
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "Tempo <b>run</b>"),
            ("sport", "running"),
            ("notes", "Felt good.\nWindy."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let row = sqlx::query!("SELECT name, notes FROM activities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(row.name, "Tempo <b>run</b>");
    assert_eq!(row.notes, "Felt good.\nWindy.");
    let page = client
        .get(app.url(&format!("/activities/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<b>run</b>"), "escaped");

    let res = client
        .post(app.url(&format!("/activities/{id}/delete")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(counts(&app).await, [0, 0, 0, 0]);
    let _ = new_client();
}

#[tokio::test]
async fn seed_demo_stores_a_demo_athlete_once_who_can_sign_in_and_see_activities() {
    let app = TestApp::spawn().await;
    let first = pierre::seed::seed_demo(&app.db, 21).await.unwrap();
    let pierre::seed::Seeded::Created { activities } = first else {
        panic!("expected a new demo athlete, got {first:?}");
    };
    assert!(activities >= 5, "three weeks of training: {activities}");
    assert_eq!(
        pierre::seed::seed_demo(&app.db, 21).await.unwrap(),
        pierre::seed::Seeded::AlreadyThere
    );
    assert_eq!(counts(&app).await[0], i64::try_from(activities).unwrap());
    let client = new_client();
    let res = crate::accounts::login(
        &app,
        &client,
        pierre::seed::DEMO_EMAIL,
        pierre::seed::DEMO_PASSWORD,
    )
    .await;
    assert_eq!(res.status(), 303);
    let list = client
        .get(app.url("/activities"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = html(&list);
    let first_link = doc
        .select(&scraper::Selector::parse("#activity-results tbody a").unwrap())
        .next()
        .and_then(|a| a.value().attr("href"))
        .unwrap()
        .to_owned();
    let page = client.get(app.url(&first_link)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("chart-line"));
}

#[tokio::test]
async fn the_account_export_holds_the_profile_an_index_and_every_activity_file() {
    let app = TestApp::spawn().await;
    let (client, user_id) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let run = fixture("garmin-fenix-5-run.fit");
    upload(&app, &client, vec![("morning=run.fit", run.clone())]).await;
    // An activity without an original file (as synced or generated) exports as GPX.
    let profile = pierre::synthetic::AthleteProfile::cyclist();
    let plan = pierre::synthetic::plan(
        &profile,
        pierre::synthetic::Pattern::Periodized,
        chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        7,
        7,
    );
    let generated = pierre::synthetic::activity(&profile, &plan[0]);
    let mut conn = app.db.acquire().await.unwrap();
    pierre::db::activities::insert(
        &mut conn,
        &pierre::db::activities::NewActivity {
            user_id,
            source: pierre::db::activities::Source::Upload,
            external_id: None,
            name: "=HYPERLINK(\"evil\")",
            parsed: &generated,
            file_sha256: None,
            original: None,
            metrics: None,
        },
    )
    .await
    .unwrap();
    drop(conn);

    let res = client
        .get(app.url("/settings/account/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("pierre-export-")
    );
    let bytes = res.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    assert!(names.contains(&"profile.json".to_owned()), "{names:?}");
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("activities.csv").unwrap(), &mut csv)
        .unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.contains("'=HYPERLINK"),
        "formulas are neutralised: {csv}"
    );
    let fit_name = names
        .iter()
        .find(|n| n.ends_with(".fit.gz"))
        .expect("the original, gzipped")
        .clone();
    let mut gz = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name(&fit_name).unwrap(), &mut gz).unwrap();
    let mut original = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(gz.as_slice()),
        &mut original,
    )
    .unwrap();
    assert_eq!(original, run);
    let gpx_name = names
        .iter()
        .find(|n| n.ends_with(".gpx"))
        .expect("a GPX for the generated one")
        .clone();
    let mut gpx = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name(&gpx_name).unwrap(), &mut gpx).unwrap();
    assert!(pierre::import::parse("x.gpx", &gpx).is_ok());
}

#[tokio::test]
async fn what_the_importer_skipped_is_said_on_the_activity_page() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (_, outcomes) = upload(
        &app,
        &client,
        vec![("korita-zbevnica.gpx", fixture("korita-zbevnica.gpx"))],
    )
    .await;
    assert_eq!(outcomes[0].1, "imported", "{outcomes:?}");
    let id: uuid::Uuid = sqlx::query_scalar!("SELECT id FROM activities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let page = client
        .get(app.url(&format!("/activities/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let notes = text_of(&html(&page), "#import-warnings").expect("the page says what was skipped");
    assert!(notes.to_lowercase().contains("time"), "{notes}");
}

#[tokio::test]
async fn training_metrics_are_computed_at_import_with_the_thresholds_in_force() {
    let app = TestApp::spawn().await;
    let (client, user_id) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    // FTP 315 W from before the ride's date (2013-08-16): the device says TSS 118.7.
    let mut conn = app.db.acquire().await.unwrap();
    pierre::db::thresholds::upsert(
        &mut conn,
        user_id,
        "cycling",
        chrono::NaiveDate::from_ymd_opt(2013, 1, 1).unwrap(),
        &pierre::db::thresholds::Thresholds {
            ftp_w: Some(315.0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    drop(conn);
    upload(
        &app,
        &client,
        vec![(
            "Edge810.fit",
            fixture("Edge810-Vector-2013-08-16-15-35-10.fit"),
        )],
    )
    .await;
    let row = sqlx::query!("SELECT id, np_w, intensity_factor, load, load_source FROM activities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let np = row.np_w.unwrap();
    assert!((np - 301.0).abs() < 1.0, "NP {np}");
    assert!((row.intensity_factor.unwrap() - np / 315.0).abs() < 1e-9);
    assert_eq!(row.load_source, "power");
    assert!((row.load - 118.7).abs() / 118.7 < 0.01, "TSS {}", row.load);
    let page = client
        .get(app.url(&format!("/activities/{}", row.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let summary = text_of(&html(&page), "#activity-summary").unwrap();
    assert!(
        summary.contains("119 TSS") || summary.contains("118 TSS"),
        "{summary}"
    );
    assert!(summary.contains("Normalized Power"), "{summary}");

    // Without thresholds, no load is invented and the page says what to do.
    let (other, _) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    upload(
        &app,
        &other,
        vec![("run.fit", fixture("garmin-fenix-5-run.fit"))],
    )
    .await;
    let (id, load, source) = sqlx::query_as::<_, (uuid::Uuid, f64, String)>(
        "SELECT id, load, load_source FROM activities WHERE sport = 'running'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((load, source.as_str()), (0.0, "none"));
    let page = other
        .get(app.url(&format!("/activities/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("add thresholds"));
}
