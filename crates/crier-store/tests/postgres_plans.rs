//! PostgreSQL's plans on a freshly migrated database, before any statistics exist: a lookup by a
//! table's primary key or unique key must use that key's index with all its columns. Foreign-key
//! checks and prepared statements keep a generic plan for the life of a connection, so a wrong
//! choice made while a table is young is repeated for every row, reading every row of the
//! workspace (migration 0018 removed the indexes that caused this).

#![expect(clippy::unwrap_used, reason = "tests")]

use crier_testkit::{Backend, TestDb};
use sqlx::{Connection, PgConnection, Row};

/// Every primary and unique key of the test's schema: (table, index, columns with their types).
async fn keys(conn: &mut PgConnection, schema: &str) -> Vec<(String, String, Vec<(String, String)>)> {
    let rows = sqlx::query(
        "SELECT c.conrelid::regclass::text, c.conindid::regclass::text, \
                array_agg(a.attname::text ORDER BY k.n), array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.n) \
         FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY AS k(att, n), pg_attribute a \
         WHERE c.contype IN ('p', 'u') AND c.connamespace = $1::regnamespace \
           AND a.attrelid = c.conrelid AND a.attnum = k.att \
         GROUP BY c.oid, c.conrelid, c.conindid",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            let names: Vec<String> = row.get(2);
            let types: Vec<String> = row.get(3);
            (row.get(0), row.get(1), names.into_iter().zip(types).collect())
        })
        .collect()
}

/// The generic plan of an equality lookup on `columns`, as a foreign-key check writes it.
async fn generic_plan(
    conn: &mut PgConnection,
    n: usize,
    table: &str,
    columns: &[(String, String)],
) -> String {
    let types: Vec<&str> = columns.iter().map(|(_, ty)| ty.as_str()).collect();
    let condition: Vec<String> =
        columns.iter().enumerate().map(|(i, (name, _))| format!("{name} = ${}", i + 1)).collect();
    sqlx::raw_sql(&format!(
        "PREPARE lookup_{n}({}) AS SELECT 1 FROM ONLY {table} x WHERE {} FOR KEY SHARE OF x",
        types.join(", "),
        condition.join(" AND ")
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    let nulls = vec!["NULL"; columns.len()].join(", ");
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN EXECUTE lookup_{n}({nulls})"))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    lines.join("\n")
}

#[tokio::test]
async fn key_lookups_use_their_key_on_a_new_database() {
    let db = TestDb::fresh(Backend::Postgres).await;
    let schema = db.pg_schema.clone().unwrap();
    let mut conn = PgConnection::connect(db.owner_url.expose()).await.unwrap();
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan").execute(&mut conn).await.unwrap();
    let keys = keys(&mut conn, &schema).await;
    assert!(keys.iter().any(|(table, _, _)| table == "post_targets"), "the schema has Crier's tables");
    let mut wrong = Vec::new();
    for (n, (table, index, columns)) in keys.iter().enumerate() {
        let plan = generic_plan(&mut conn, n, table, columns).await;
        if !plan.contains(&format!(" using {index} on ")) || plan.contains("Filter:") {
            wrong.push(format!("{table} by {index}:\n{plan}"));
        }
    }
    assert!(wrong.is_empty(), "lookups that do not use their key:\n{}", wrong.join("\n\n"));
}
