//! Counting the SQL statements the app runs: a TCP proxy between the app and
//! PostgreSQL that reads the frontend (client → server) wire protocol.
//!
//! A statement is one `Q` (simple query: `BEGIN`, `COMMIT`, …) or one `B`
//! (Bind of the extended protocol: sqlx caches prepared statements, so it
//! sends Parse once per connection but Bind on every execution). The SQL of
//! each is recorded (from the Parse a Bind refers to) for readable failures.
//!
//! The start-up is untyped: an optional `SSLRequest` / `GSSENCRequest` (the
//! server answers one byte; the app connects with `sslmode=disable`, so no
//! TLS ever starts), then the `StartupMessage`; every later message is typed.
//! The server → client direction is copied as is.
//!
//! Every connection of the app goes through the proxy (request pools, the
//! session store, the background pool). The job worker's once-a-second queue
//! poll (`FOR UPDATE SKIP LOCKED`) runs whatever the requests do, so
//! [`QueryCounter::count`] leaves it out; [`QueryCounter::all`] keeps it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// What the job worker polls with (see `db::jobs::claim`).
const QUEUE_POLL: &str = "FOR UPDATE SKIP LOCKED";

/// The statements seen by a [`CountingProxy`], shared with the test.
#[derive(Clone, Default)]
pub struct QueryCounter {
    statements: Arc<Mutex<Vec<String>>>,
}

impl QueryCounter {
    /// Forget what was counted so far.
    pub fn reset(&self) {
        self.statements.lock().unwrap().clear();
    }

    /// Statements executed since the last reset, except the job queue poll.
    pub fn count(&self) -> usize {
        self.statements().len()
    }

    /// Their SQL, in order (one line each, whitespace collapsed).
    pub fn statements(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|sql| !sql.contains(QUEUE_POLL))
            .collect()
    }

    /// Every statement since the last reset, the queue poll included.
    pub fn all(&self) -> Vec<String> {
        self.statements.lock().unwrap().clone()
    }

    fn record(&self, sql: &str) {
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        self.statements.lock().unwrap().push(sql);
    }
}

impl std::fmt::Debug for QueryCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.all()).finish()
    }
}

/// A forwarder to PostgreSQL that counts statements.
pub struct CountingProxy {
    pub addr: SocketAddr,
    pub counter: QueryCounter,
}

impl CountingProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let counter = QueryCounter::default();
        let shared = counter.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let counter = shared.clone();
                tokio::spawn(async move {
                    let (client_read, client_write) = inbound.into_split();
                    let (server_read, server_write) = outbound.into_split();
                    let down = tokio::spawn(copy_down(server_read, client_write));
                    let _ = forward_up(client_read, server_write, &counter).await;
                    down.abort();
                });
            }
        });
        Self { addr, counter }
    }

    /// A database URL for `database` through this proxy, without TLS.
    pub fn url(&self) -> String {
        let mut url = url::Url::parse(&crate::support::server_url()).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.query_pairs_mut().append_pair("sslmode", "disable");
        url.to_string()
    }
}

async fn copy_down(mut from: OwnedReadHalf, mut to: OwnedWriteHalf) -> std::io::Result<u64> {
    tokio::io::copy(&mut from, &mut to).await
}

/// Forward client → server messages, recording each statement executed.
async fn forward_up(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    counter: &QueryCounter,
) -> std::io::Result<()> {
    // Untyped start-up messages: length (itself included), then a code.
    loop {
        let len = from.read_u32().await?;
        let mut body = vec![0; (len as usize).saturating_sub(4)];
        from.read_exact(&mut body).await?;
        to.write_u32(len).await?;
        to.write_all(&body).await?;
        let code = body
            .get(..4)
            .map_or(0, |c| u32::from_be_bytes(c.try_into().unwrap()));
        match code {
            // The server answers 'N' (or 'S'/'G', which sslmode=disable never asks for);
            // the client then sends the StartupMessage.
            SSL_REQUEST | GSSENC_REQUEST => {}
            CANCEL_REQUEST => return Ok(()),
            _ => break,
        }
    }
    // Prepared statement name → SQL, for this connection.
    let mut prepared: HashMap<String, String> = HashMap::new();
    loop {
        let kind = from.read_u8().await?;
        let len = from.read_u32().await?;
        let mut body = vec![0; (len as usize).saturating_sub(4)];
        from.read_exact(&mut body).await?;
        match kind {
            b'Q' => counter.record(&cstrings(&body, 1).join("")),
            b'P' => {
                let parts = cstrings(&body, 2);
                if let [name, sql] = parts.as_slice() {
                    prepared.insert(name.clone(), sql.clone());
                }
            }
            b'B' => {
                // Portal name, then the statement name.
                let parts = cstrings(&body, 2);
                let statement = parts.get(1).cloned().unwrap_or_default();
                let sql = prepared
                    .get(&statement)
                    .cloned()
                    .unwrap_or_else(|| format!("<prepared {statement}>"));
                counter.record(&sql);
            }
            _ => {}
        }
        to.write_u8(kind).await?;
        to.write_u32(len).await?;
        to.write_all(&body).await?;
        if kind == b'X' {
            return Ok(());
        }
    }
}

/// The first `n` NUL-terminated strings of a message body.
fn cstrings(body: &[u8], n: usize) -> Vec<String> {
    body.split(|b| *b == 0)
        .take(n)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection as _, PgConnection};

    use super::CountingProxy;
    use crate::accounts::signed_in;
    use crate::support::TestApp;

    #[tokio::test]
    async fn a_page_costs_the_session_load_plus_its_handlers_queries() {
        let (app, counter) = TestApp::spawn_counting().await;
        let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
        assert!(counter.count() > 0, "sign-in went through the proxy");
        let get = || async {
            let res = client
                .get(app.url("/settings/thresholds"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap();
        };
        // Warm-up: statements prepared, the anti-forgery token stored in the session.
        get().await;
        for _ in 0..3 {
            counter.reset();
            get().await;
            let statements = counter.statements();
            // The session with its user (one statement), the threshold history, the
            // evidence for suggestions, the last recompute job.
            assert_eq!(counter.count(), 4, "{statements:#?}");
            assert!(statements[0].contains("FROM sessions"), "{statements:#?}");
            assert!(
                statements[1].contains("FROM athlete_thresholds"),
                "{statements:#?}"
            );
            assert!(statements[2].contains("FROM activities"), "{statements:#?}");
            assert!(statements[3].contains("FROM jobs"), "{statements:#?}");
        }

        // An anonymous page with no session cookie runs nothing; simple queries count too.
        counter.reset();
        let res = reqwest::get(app.url("/login")).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(counter.count(), 0, "{:#?}", counter.statements());
    }

    #[tokio::test]
    async fn simple_queries_and_every_bind_count_once() {
        let proxy = CountingProxy::start(crate::support::server_addr()).await;
        let mut conn = PgConnection::connect(&proxy.url()).await.unwrap();
        proxy.counter.reset();
        for _ in 0..3 {
            let one: i32 = sqlx::query_scalar("SELECT $1::int4")
                .bind(1)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(one, 1);
        }
        // One simple query message, whatever it holds.
        sqlx::raw_sql(sqlx::AssertSqlSafe("SELECT 1; SELECT 2"))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SELECT 3").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let statements = proxy.counter.statements();
        assert_eq!(
            statements,
            [
                "SELECT $1::int4",
                "SELECT $1::int4",
                "SELECT $1::int4",
                "SELECT 1; SELECT 2",
                "BEGIN",
                "SELECT 3",
                "COMMIT"
            ],
        );
        assert_eq!(proxy.counter.count(), 7);
    }
}
