//! Session export (spec §4.1): NDJSON (the format `openscouter analyze` reads) or CSV, streamed
//! from keyset-paged store reads merged in timestamp order, so memory stays flat.

use std::collections::VecDeque;

use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::domain::ids::SessionId;
use crate::domain::{Tenant, format_ms};
use crate::error::{AppError, AppResult};
use crate::services::analysis_input::{nd_categories, tester_label};
use crate::services::ingest::{EventItem, FacialItem, VoiceItem};
use crate::services::sessions::{self, Access};
use crate::store::{Page, Session};

/// Rows fetched per store call and stream.
const PAGE: i64 = 500;

/// Export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

/// A chunk of the response body.
pub type Chunk = Result<String, std::io::Error>;

/// The first NDJSON line: session facts, tasks and analysis thresholds.
async fn session_header(state: &App, s: &Session) -> AppResult<Value> {
    let study = sessions::study_of(state, s).await?;
    let tasks: Vec<Value> =
        study.tasks.iter().map(|t| json!({"taskId": t.id, "title": t.title, "order": t.order})).collect();
    let mut line = json!({
        "kind": "session",
        "sessionId": s.id,
        "jobId": s.study_id,
        "variant": s.variant,
        "status": s.status,
        "startedAt": format_ms(s.started_at),
        "completedAt": s.completed_at.map(format_ms),
        "testerLabel": tester_label(s),
        "ndCategories": nd_categories(s),
        "tasks": tasks,
    });
    if let Some(a) = study.definition.analysis {
        line["analysis"] = a;
    }
    // The screen recording's health (api.md §5.1): a recording that cannot be replayed says so.
    if let Some(r) = crate::services::recording::summary_of(state, s).await? {
        line["recording"] = serde_json::to_value(r).unwrap_or(Value::Null);
    }
    Ok(line)
}

/// Opens the export of a session the caller may read: its header is checked before the
/// first byte goes out, the rest streams.
pub async fn open(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
    format: Format,
) -> AppResult<impl Stream<Item = Chunk> + use<>> {
    let mut session = sessions::authorize(state, caller, session_id, Access::Read).await?;
    sessions::redact_rare_categories(state, caller, std::slice::from_mut(&mut session)).await?;
    let tenant = caller.tenant()?;
    let header = session_header(state, &session).await?;
    Ok(stream(state.clone(), tenant, session, header, format))
}

/// A record with its sort key `(timestamp, stream order, seq)`.
struct Rec {
    key: (i64, u8, i64),
    value: Value,
}

/// One paged cursor over a stream.
struct Cursor {
    buf: VecDeque<Rec>,
    after: (i64, i64),
    done: bool,
}

impl Cursor {
    fn new() -> Self {
        Self { buf: VecDeque::new(), after: (i64::MIN, i64::MIN), done: false }
    }
}

fn tagged(kind: &str, item: impl serde::Serialize) -> Value {
    let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        let mut out = serde_json::Map::with_capacity(m.len() + 1);
        out.insert("kind".into(), Value::String(kind.into()));
        out.append(m);
        return Value::Object(out);
    }
    v
}

async fn refill(
    state: &App,
    t: &Tenant,
    session_id: &SessionId,
    which: usize,
    c: &mut Cursor,
) -> AppResult<()> {
    if c.done || !c.buf.is_empty() {
        return Ok(());
    }
    let recs: Vec<Rec> = match which {
        0 => state
            .store
            .events_after(t, session_id, c.after, PAGE)
            .await?
            .into_iter()
            .map(|(seq, r)| Rec { key: (r.ts, 0, seq), value: tagged("event", EventItem::from_row(r)) })
            .collect(),
        1 => state
            .store
            .facial_after(t, session_id, c.after, PAGE)
            .await?
            .into_iter()
            .map(|(seq, r)| Rec { key: (r.ts, 1, seq), value: tagged("facial", FacialItem::from_row(r)) })
            .collect(),
        _ => state
            .store
            .voice_after(t, session_id, c.after, PAGE)
            .await?
            .into_iter()
            .map(|(seq, r)| Rec { key: (r.ts, 2, seq), value: tagged("voice", VoiceItem::from_row(r)) })
            .collect(),
    };
    if (recs.len() as i64) < PAGE {
        c.done = true;
    }
    if let Some(last) = recs.last() {
        c.after = (last.key.0, last.key.2);
    }
    c.buf.extend(recs);
    Ok(())
}

/// CSV columns: `kind`, then every field of every record kind.
const CSV_COLUMNS: [&str; 34] = [
    "kind",
    "timestamp",
    "clientId",
    "eventType",
    "targetSelector",
    "x",
    "y",
    "scrollY",
    "inputLength",
    "viewportWidth",
    "viewportHeight",
    "url",
    "targetText",
    "taskId",
    "hoverMs",
    "errorMessage",
    "deletions",
    "selectionLength",
    "mutations",
    "opensNewContext",
    "role",
    "wordCount",
    "emotion",
    "confidence",
    "faceDetected",
    "actionUnits",
    "captureIntervalMs",
    "durationMs",
    "transcript",
    "text",
    "outcome",
    "seq",
    "startedAt",
    "endedAt",
];

fn csv_field(v: Option<&Value>) -> String {
    let s = match v {
        None | Some(Value::Null) => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    // Rows stored before NUL was refused at the edge must not put raw 0x00 into a CSV file.
    let s = if s.contains('\0') { s.replace('\0', "\u{FFFD}") } else { s };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn csv_line(v: &Value) -> String {
    let get = |col: &str| -> Option<Value> {
        match col {
            "viewportWidth" => v.pointer("/viewport/width").cloned(),
            "viewportHeight" => v.pointer("/viewport/height").cloned(),
            other => v.get(other).cloned(),
        }
    };
    let mut line = CSV_COLUMNS.iter().map(|c| csv_field(get(c).as_ref())).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

fn render(format: Format, v: &Value) -> String {
    match format {
        Format::Ndjson => {
            let mut s = v.to_string();
            s.push('\n');
            s
        }
        Format::Csv => csv_line(v),
    }
}

async fn produce(
    state: App,
    t: Tenant,
    s: Session,
    header: Value,
    format: Format,
    tx: mpsc::Sender<Chunk>,
) -> AppResult<()> {
    let send = |text: String| {
        let tx = tx.clone();
        async move { tx.send(Ok(text)).await.map_err(|_| AppError::internal("client went away")) }
    };
    match format {
        Format::Ndjson => send(render(format, &header)).await?,
        Format::Csv => send(format!("{}\n", CSV_COLUMNS.join(","))).await?,
    }
    // Notes and task attempts are few: load them whole, as sorted records.
    let mut small: VecDeque<Rec> = VecDeque::new();
    let mut page = 1;
    loop {
        let (notes, total) = state.store.list_notes(&t, &s.id, Page { page, limit: 100 }).await?;
        for (i, n) in notes.iter().enumerate() {
            small.push_back(Rec {
                key: (n.ts, 3, i64::from(page) * 100 + i as i64),
                value: json!({"kind": "note", "timestamp": format_ms(n.ts), "text": n.text}),
            });
        }
        if u64::from(page) * 100 >= total {
            break;
        }
        page += 1;
    }
    for (i, a) in state.store.list_attempts(&t, &s.id).await?.into_iter().enumerate() {
        let mut v = json!({"kind": "taskAttempt", "taskId": a.task_id, "outcome": a.outcome,
            "startedAt": format_ms(a.started_at), "endedAt": format_ms(a.ended_at)});
        if let Some(q) = a.seq_score {
            v["seq"] = json!(q);
        }
        small.push_back(Rec { key: (a.started_at, 4, i as i64), value: v });
    }
    let mut small: Vec<Rec> = small.into();
    small.sort_by_key(|r| r.key);
    let mut small: VecDeque<Rec> = small.into();

    let mut cursors = [Cursor::new(), Cursor::new(), Cursor::new()];
    let mut out = String::with_capacity(64 * 1024);
    loop {
        for (i, c) in cursors.iter_mut().enumerate() {
            refill(&state, &t, &s.id, i, c).await?;
        }
        let mut best: Option<(usize, (i64, u8, i64))> = None;
        for (i, c) in cursors.iter().enumerate() {
            if let Some(r) = c.buf.front()
                && best.is_none_or(|(_, k)| r.key < k)
            {
                best = Some((i, r.key));
            }
        }
        let take_small = small.front().is_some_and(|r| best.is_none_or(|(_, k)| r.key < k));
        let rec = if take_small {
            small.pop_front()
        } else {
            match best {
                Some((i, _)) => cursors[i].buf.pop_front(),
                None => None,
            }
        };
        let Some(rec) = rec else { break };
        out.push_str(&render(format, &rec.value));
        if out.len() >= 60 * 1024 {
            send(std::mem::take(&mut out)).await?;
        }
    }
    if let (Some(sus), Format::Ndjson) =
        (s.sus.as_deref().and_then(|x| serde_json::from_str::<Value>(x).ok()), format)
    {
        let mut v = json!({"kind": "survey", "sus": sus});
        if let Some(n) = s.nps {
            v["nps"] = json!(n);
        }
        out.push_str(&render(format, &v));
    } else if let (Some(n), Format::Ndjson) = (s.nps, format) {
        out.push_str(&render(format, &json!({"kind": "survey", "nps": n})));
    }
    if !out.is_empty() {
        send(out).await?;
    }
    Ok(())
}

/// The body stream. A producer task pages through the store; the channel's small capacity
/// applies back-pressure, so a slow client never makes the server buffer the session.
fn stream(state: App, t: Tenant, s: Session, header: Value, format: Format) -> impl Stream<Item = Chunk> {
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    tokio::spawn(async move {
        let err_tx = tx.clone();
        if let Err(e) = produce(state, t, s, header, format, tx).await {
            tracing::warn!(error = %e, "export stopped");
            let _ = err_tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}
