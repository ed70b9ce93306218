//! `cargo lab sql`: SQL over the spans the sink keeps in Postgres (table
//! `spans`, see `sink/database.rs` and docs/traces-as-data.md).
//!
//! The query goes to Postgres as the learner wrote it, over the simple query
//! protocol: every value comes back as text, whatever its type, so any
//! query prints without this file knowing its columns. The session is read
//! only unless `--write`: Postgres itself refuses a statement that changes
//! data, so the rule holds for every statement, not just the ones we could
//! recognise. Errors are printed the way `psql` prints them, with a caret
//! under the position Postgres reports.

use std::path::Path;
use std::str::FromStr;

use futures::TryStreamExt;
use serde_json::{Map, Value as Json};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgErrorPosition, PgRow};
use sqlx::{Column, ConnectOptions, Either, Row, TypeInfo, ValueRef};

use crate::stack::{self, Mode, NativeStack};

/// Where compose's Postgres answers on the host (docker-compose.yml).
pub const COMPOSE_DATABASE_URL: &str = "postgres://postgres:postgres@127.0.0.1:15432/lab";

/// The spans database: the flag (or `LAB_DATABASE_URL`), else the one
/// `scripts/dev-up.sh` recorded, else compose's.
pub fn database_url(root: &Path, given: Option<String>) -> anyhow::Result<String> {
    if let Some(url) = given.filter(|u| !u.trim().is_empty()) {
        return Ok(url);
    }
    if let Some(native) = NativeStack::load(root)? {
        if let Some(url) = native.get("LAB_DATABASE_URL") {
            return Ok(url.to_string());
        }
        // dev-up found compose's collector and Jaeger and used them.
        if native.get("BACKEND") == Some("external") {
            return Ok(COMPOSE_DATABASE_URL.to_string());
        }
        anyhow::bail!(
            "the native stack keeps no spans database (its sink runs with --no-database, \
             or it was started by an older dev-up): run scripts/dev-up.sh again, or pass \
             --database-url"
        );
    }
    if stack::detect_mode(root) == Mode::Compose {
        return Ok(COMPOSE_DATABASE_URL.to_string());
    }
    anyhow::bail!(
        "no spans database: nothing is running here. Start the workshop \
         (scripts/dev-up.sh, or docker compose up -d), or pass --database-url"
    )
}

/// How `sql` prints its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// The rows of one statement.
#[derive(Debug, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<String>,
    /// Whether a column holds numbers (aligned to the right in a table).
    pub numeric: Vec<bool>,
    /// `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows a statement that returns none changed (INSERT, DELETE, ...).
    pub affected: Option<u64>,
}

/// A query Postgres refused, with what it said.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Postgres(String),
}

/// Runs `sql` (one or more statements) and returns each statement's rows.
pub async fn run(url: &str, sql: &str, write: bool) -> Result<Vec<ResultSet>, SqlError> {
    let mut options = PgConnectOptions::from_str(url).map_err(|e| {
        SqlError::Connect(format!(
            "{url:?} is not a Postgres URL ({e}); expected postgres://USER@HOST:PORT/DATABASE"
        ))
    })?;
    if !write {
        options = options.options([("default_transaction_read_only", "on")]);
    }
    let mut connection = options.connect().await.map_err(|e| {
        SqlError::Connect(format!(
            "cannot reach the spans database at {url} ({e}). Is the stack running \
             (cargo lab doctor)? The sink creates the database when it receives its first span."
        ))
    })?;
    let mut sets = Vec::new();
    let mut current = ResultSet::default();
    // The learner's own SQL, sent as written: that is what this command is
    // for (read-only unless --write), hence `AssertSqlSafe`.
    let mut stream =
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).fetch_many(&mut connection);
    loop {
        match stream.try_next().await {
            Ok(Some(Either::Right(row))) => add_row(&mut current, &row),
            Ok(Some(Either::Left(done))) => {
                if current.columns.is_empty() {
                    current.affected = Some(done.rows_affected());
                }
                sets.push(std::mem::take(&mut current));
            }
            Ok(None) => break,
            Err(error) => return Err(SqlError::Postgres(describe(&error, sql, write))),
        }
    }
    Ok(sets)
}

fn add_row(set: &mut ResultSet, row: &PgRow) {
    if set.columns.is_empty() {
        set.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
        set.numeric = row
            .columns()
            .iter()
            .map(|c| {
                matches!(
                    c.type_info().name(),
                    "INT2" | "INT4" | "INT8" | "FLOAT4" | "FLOAT8" | "NUMERIC" | "OID"
                )
            })
            .collect();
    }
    let values = (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i).ok()?;
            if raw.is_null() {
                return None;
            }
            // The simple protocol sends every value as text.
            Some(raw.as_str().unwrap_or("?").to_string())
        })
        .collect();
    set.rows.push(values);
}

/// Postgres's own words, the line and a caret under the position it names
/// (as psql prints them), and what to do about a refused write.
fn describe(error: &sqlx::Error, sql: &str, write: bool) -> String {
    let Some(db) = error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<PgDatabaseError>())
    else {
        return format!("the query failed: {error}");
    };
    let mut out = format!("ERROR:  {}", db.message());
    if let Some(PgErrorPosition::Original(position)) = db.position() {
        out.push('\n');
        out.push_str(&caret(sql, position));
    }
    if let Some(detail) = db.detail() {
        out.push_str(&format!("\nDETAIL:  {detail}"));
    }
    if let Some(hint) = db.hint() {
        out.push_str(&format!("\nHINT:  {hint}"));
    }
    // 25006: read_only_sql_transaction.
    if db.code() == "25006" && !write {
        out.push_str(
            "\nThis statement changes data, and `cargo lab sql` only reads unless you add \
             --write.",
        );
    }
    out
}

/// `LINE n: <the line>` and a caret under character `position` (1-based,
/// counted in characters over the whole query, as Postgres counts).
fn caret(sql: &str, position: usize) -> String {
    let mut seen = 0;
    for (number, line) in sql.split('\n').enumerate() {
        let length = line.chars().count() + 1;
        if position <= seen + length {
            let column = position - seen - 1;
            let prefix = format!("LINE {}: ", number + 1);
            return format!(
                "{prefix}{line}\n{}^",
                " ".repeat(prefix.len() + line.chars().take(column).count())
            );
        }
        seen += length;
    }
    format!("at character {position}")
}

/// Every result set in the chosen format.
pub fn render(sets: &[ResultSet], format: Format) -> String {
    match format {
        Format::Table => sets.iter().map(table).collect::<Vec<_>>().join("\n"),
        Format::Json => {
            // One statement: its rows. Several: an array per statement.
            let arrays: Vec<Json> = sets.iter().map(json_rows).collect();
            let value = match <[Json; 1]>::try_from(arrays) {
                Ok([one]) => one,
                Err(many) => Json::Array(many),
            };
            format!(
                "{}\n",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            )
        }
        Format::Csv => sets.iter().map(csv).collect::<Vec<_>>().join("\n"),
    }
}

/// An aligned table like psql's, with the row count under it.
fn table(set: &ResultSet) -> String {
    if set.columns.is_empty() {
        return match set.affected {
            Some(n) => format!("({n} rows changed)\n"),
            None => "(0 rows)\n".to_string(),
        };
    }
    let cell = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut widths: Vec<usize> = set.columns.iter().map(|c| c.chars().count()).collect();
    for row in &set.rows {
        for (i, value) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell(value).chars().count());
        }
    }
    let line = |values: Vec<String>, align_numbers: bool| -> String {
        let cells: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if align_numbers && set.numeric[i] {
                    format!("{v:>width$}", width = widths[i])
                } else {
                    format!("{v:<width$}", width = widths[i])
                }
            })
            .collect();
        format!(" {}", cells.join(" | ")).trim_end().to_string() + "\n"
    };
    let mut out = line(set.columns.clone(), false);
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+"),
    );
    out.push('\n');
    for row in &set.rows {
        out.push_str(&line(row.iter().map(cell).collect(), true));
    }
    let n = set.rows.len();
    out.push_str(&format!("({n} row{})\n", if n == 1 { "" } else { "s" }));
    out
}

/// Rows as JSON objects; numbers stay numbers, everything else is text.
fn json_rows(set: &ResultSet) -> Json {
    let rows = set.rows.iter().map(|row| {
        let object: Map<String, Json> = set
            .columns
            .iter()
            .zip(row)
            .enumerate()
            .map(|(i, (name, value))| {
                let value = match value {
                    None => Json::Null,
                    Some(text) if set.numeric[i] => {
                        serde_json::from_str::<serde_json::Number>(text)
                            .map(Json::Number)
                            .unwrap_or_else(|_| Json::String(text.clone()))
                    }
                    Some(text) => Json::String(text.clone()),
                };
                (name.clone(), value)
            })
            .collect();
        Json::Object(object)
    });
    Json::Array(rows.collect())
}

/// RFC 4180 CSV with a header row; NULL is an empty field.
fn csv(set: &ResultSet) -> String {
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    let header: Vec<String> = set.columns.iter().map(|c| field(c)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in &set.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| field(v.as_deref().unwrap_or("")))
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> ResultSet {
        ResultSet {
            columns: vec!["service_name".into(), "count".into()],
            numeric: vec![false, true],
            rows: vec![
                vec![Some("api-gateway".into()), Some("12".into())],
                vec![Some("a, \"b\"".into()), None],
            ],
            affected: None,
        }
    }

    #[test]
    fn a_table_aligns_numbers_right_and_counts_rows() {
        assert_eq!(
            table(&set()),
            " service_name | count\n--------------+-------\n api-gateway  |    12\n a, \"b\"       |\n(2 rows)\n"
        );
    }

    #[test]
    fn json_keeps_numbers_and_nulls() {
        let json = render(&[set()], Format::Json);
        let value: Json = serde_json::from_str(&json).unwrap();
        assert_eq!(value[0]["count"], Json::from(12));
        assert_eq!(value[1]["count"], Json::Null);
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(
            csv(&set()),
            "service_name,count\napi-gateway,12\n\"a, \"\"b\"\"\",\n"
        );
    }

    #[test]
    fn the_caret_points_at_the_character_postgres_names() {
        let sql = "SELECT 1\nFROM spanz";
        // Postgres counts from 1 over the whole text: `spanz` starts at 15.
        assert_eq!(caret(sql, 15), "LINE 2: FROM spanz\n             ^");
    }
}
