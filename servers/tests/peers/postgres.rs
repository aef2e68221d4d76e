//! The PostgreSQL client generated from `specs/postgres.proto` against
//! PostgreSQL 15 (the postgres suite's peer): a thousand rows with a NULL
//! column each, an error's SQLSTATE, and a cleartext password.

use std::time::Duration;

use libtest_mimic::Trial;
use servers::specs::postgres::{self, client};

use crate::harness::{self, ensure, ensure_eq, Outcome, Peer, Program};

const NEEDS: &[Program] = &[Program::Postgres];
const LIMIT: Duration = Duration::from_secs(60);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial("postgres::generated_client_reads_rows_and_an_error", NEEDS, rows),
        harness::trial(
            "postgres::generated_client_gives_a_cleartext_password",
            NEEDS,
            password,
        ),
    ]
}

fn startup(user: &str) -> postgres::Startup {
    let param = |name: &str, value: &str| postgres::Param {
        name: name.into(),
        value: value.into(),
    };
    postgres::Startup {
        params: vec![param("user", user), param("database", "postgres")],
    }
}

/// From AuthOk to ReadyForQuery: the parameters the server reports.
async fn welcome(
    mut welcome: client::Welcome,
) -> Result<(Vec<(String, String)>, client::Ready), libtest_mimic::Failed> {
    let mut params = Vec::new();
    loop {
        welcome = match welcome.recv().await? {
            client::WelcomeEvent::ParameterStatus(p, next) => {
                params.push((p.name, p.value));
                next
            }
            client::WelcomeEvent::BackendKeyData(_, next) => next,
            client::WelcomeEvent::ReadyForQuery(_, ready) => return Ok((params, ready)),
            other => return Err(format!("before ReadyForQuery: {other:?}").into()),
        }
    }
}

/// One query's answer: its rows, its command tags and its errors'
/// fields, up to ReadyForQuery.
#[derive(Default)]
struct Answer {
    rows: Vec<Vec<Option<Vec<u8>>>>,
    tags: Vec<String>,
    errors: Vec<Vec<postgres::Notice>>,
}

async fn query(ready: client::Ready, sql: &str) -> Result<(Answer, client::Ready), libtest_mimic::Failed> {
    let mut answering = ready.send_query(postgres::Query { sql: sql.into() }).await?;
    let mut answer = Answer::default();
    loop {
        answering = match answering.recv().await? {
            client::AnsweringEvent::RowDescription(_, next) | client::AnsweringEvent::EmptyQuery(_, next) => {
                next
            }
            client::AnsweringEvent::NoticeResponse(_, next)
            | client::AnsweringEvent::ParameterStatus(_, next) => next,
            client::AnsweringEvent::DataRow(row, next) => {
                answer.rows.push(
                    row.columns
                        .into_iter()
                        .map(|c| c.value.map(|v| v.to_vec()))
                        .collect(),
                );
                next
            }
            client::AnsweringEvent::CommandComplete(c, next) => {
                answer.tags.push(c.tag);
                next
            }
            client::AnsweringEvent::ErrorResponse(e, next) => {
                answer.errors.push(e.fields);
                next
            }
            client::AnsweringEvent::ReadyForQuery(_, ready) => return Ok((answer, ready)),
        }
    }
}

fn rows() -> Outcome {
    let peer = Peer::start("postgres")?;
    harness::block_on(LIMIT, async {
        let start = client::connect(&peer.addr()).await?;
        let authenticating = start.send_startup(startup("postgres")).await?;
        let client::AuthenticatingEvent::AuthOk(_, welcomed) = authenticating.recv().await? else {
            return Err("postgres is trusted: AuthOk expected".into());
        };
        let (params, ready) = welcome(welcomed).await?;
        ensure!(
            params
                .iter()
                .any(|(n, v)| n == "server_version" && v.starts_with("15")),
            "server_version: {params:?}"
        );
        let (answer, ready) = query(ready, "SELECT g, NULL, 'x' FROM generate_series(1, 1000) g").await?;
        ensure_eq!(answer.rows.len(), 1000);
        for (i, row) in answer.rows.iter().enumerate() {
            let g = (i + 1).to_string().into_bytes();
            ensure_eq!(row, &vec![Some(g), None, Some(b"x".to_vec())]);
        }
        ensure_eq!(answer.tags, vec!["SELECT 1000".to_string()]);
        let (answer, ready) = query(ready, "SELECT 1/0").await?;
        let sqlstate = answer.errors.first().and_then(|fields| {
            fields
                .iter()
                .find(|f| f.code == postgres::Code::Sqlstate)
                .map(|f| f.value.clone())
        });
        ensure_eq!(sqlstate.as_deref(), Some("22012"));
        ready.send_terminate(postgres::Terminate {}).await?;
        Ok(())
    })
}

fn password() -> Outcome {
    let peer = Peer::start("postgres")?;
    harness::block_on(LIMIT, async {
        let start = client::connect(&peer.addr()).await?;
        let authenticating = start.send_startup(startup("clear_user")).await?;
        let client::AuthenticatingEvent::AuthCleartext(_, challenged) = authenticating.recv().await? else {
            return Err("clear_user gives a cleartext password: AuthCleartext expected".into());
        };
        let authenticating = challenged
            .send_password(postgres::Password {
                password: "clear_pw".into(),
            })
            .await?;
        let client::AuthenticatingEvent::AuthOk(_, welcomed) = authenticating.recv().await? else {
            return Err("the right password: AuthOk expected".into());
        };
        let (_, ready) = welcome(welcomed).await?;
        let (answer, ready) = query(ready, "SELECT current_user").await?;
        ensure_eq!(answer.rows, vec![vec![Some(b"clear_user".to_vec())]]);
        ready.close().await?;
        Ok(())
    })
}
