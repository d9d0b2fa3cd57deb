//! Module KPIs (README "Live data"): one row per `(module, id)`, upserted by backends and the demo
//! simulator, read by the `kpi:update:{module}` and `dashboard:update` feeds.
//!
//! An upsert replaces the whole KPI (label, value, trend, status, chart: what was sent is
//! what is stored; an omitted optional field becomes absent). When the value changes,
//! the old one is kept in [`KpiRecord::previous`], which the dashboard uses to find the
//! KPIs that changed most. "Changes" compares the stored JSON text, so `1` and `1.0`, or
//! objects with the same members in another order, count as different.
//!
//! Order inside a module is first-insert order (a `position` fixed when the KPI first
//! appears), ties broken by id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{json_from_text, DbResult, Store, StoreError};

/// One KPI as clients and backends see it: `{ id, label, value, trend?, status?, chart? }`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Kpi {
    /// Identifier, unique within its module.
    pub id: String,
    /// Human-readable name.
    pub label: String,
    /// Current value: any JSON (number, string, object…).
    pub value: Value,
    /// Trend indicator, any JSON (e.g. `"+5%"` or `{ "direction": "up" }`). Omitted when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Value>,
    /// One of `success`, `warning`, `error`, `info` (validated by the caller). Omitted when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Chart data, any JSON. Omitted when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Value>,
}

/// A stored KPI. Serializes exactly like [`Kpi`]; the bookkeeping fields stay server-side.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct KpiRecord {
    /// The KPI itself.
    #[serde(flatten)]
    pub kpi: Kpi,
    /// The value before the last change of value; `None` until the value first changes.
    #[serde(skip)]
    pub previous: Option<Value>,
    /// When the KPI was last upserted, in unix milliseconds.
    #[serde(skip)]
    pub updated_at_ms: i64,
}

/// Columns read for a [`KpiRecord`] (plus `module` for [`Store::all_kpis`]).
const KPI_COLUMNS: &str =
    "module, kpi_id, label, value, trend, status, chart, previous, updated_at_ms";

/// Upsert of one KPI. `position` is computed only on first insert and never updated;
/// `previous` takes the old value only when the value text differs. Both SQLite and
/// PostgreSQL evaluate every right-hand side of `SET` against the old row.
const UPSERT: &str = "\
INSERT INTO kpis (module, kpi_id, position, label, value, trend, status, chart, previous, updated_at_ms)
VALUES ($1, $2, (SELECT COALESCE(MAX(position), 0) + 1 FROM kpis WHERE module = $1),
        $3, $4, $5, $6, $7, NULL, $8)
ON CONFLICT (module, kpi_id) DO UPDATE SET
    label = excluded.label,
    previous = CASE WHEN kpis.value <> excluded.value THEN kpis.value ELSE kpis.previous END,
    value = excluded.value,
    trend = excluded.trend,
    status = excluded.status,
    chart = excluded.chart,
    updated_at_ms = excluded.updated_at_ms";

impl Store {
    /// Upserts `kpis` into `module` by id, in one transaction, stamped `now_ms` (unix ms).
    ///
    /// Returns the module's full list after the upsert, in first-insert order.
    pub async fn upsert_kpis(
        &self,
        module: &str,
        kpis: &[Kpi],
        now_ms: i64,
    ) -> Result<Vec<KpiRecord>, StoreError> {
        let mut tx = self.pool.begin().await.db()?;
        for kpi in kpis {
            sqlx::query(UPSERT)
                .bind(module)
                .bind(&kpi.id)
                .bind(&kpi.label)
                .bind(kpi.value.to_string())
                .bind(kpi.trend.as_ref().map(Value::to_string))
                .bind(kpi.status.clone())
                .bind(kpi.chart.as_ref().map(Value::to_string))
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .db()?;
        }
        // Read back inside the transaction: with `sqlite::memory:` the pool has a single
        // connection, which the transaction holds.
        let rows = sqlx::query(&select_module())
            .bind(module)
            .fetch_all(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        rows.iter().map(record_from_row).collect()
    }

    /// The KPIs of `module` in first-insert order; empty for an unknown module.
    pub async fn kpis(&self, module: &str) -> Result<Vec<KpiRecord>, StoreError> {
        let rows = sqlx::query(&select_module())
            .bind(module)
            .fetch_all(&self.pool)
            .await
            .db()?;
        rows.iter().map(record_from_row).collect()
    }

    /// Every module's KPIs, keyed by module, each list in first-insert order.
    pub async fn all_kpis(&self) -> Result<BTreeMap<String, Vec<KpiRecord>>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KPI_COLUMNS} FROM kpis ORDER BY module, position, kpi_id"
        ))
        .fetch_all(&self.pool)
        .await
        .db()?;
        let mut all: BTreeMap<String, Vec<KpiRecord>> = BTreeMap::new();
        for row in &rows {
            let module: String = row.try_get("module").db()?;
            all.entry(module).or_default().push(record_from_row(row)?);
        }
        Ok(all)
    }
}

fn select_module() -> String {
    format!("SELECT {KPI_COLUMNS} FROM kpis WHERE module = $1 ORDER BY position, kpi_id")
}

fn record_from_row(row: &AnyRow) -> Result<KpiRecord, StoreError> {
    let optional_json = |column: &str| -> Result<Option<Value>, StoreError> {
        let text: Option<String> = row.try_get(column).db()?;
        text.as_deref().map(json_from_text).transpose()
    };
    let value: String = row.try_get("value").db()?;
    Ok(KpiRecord {
        kpi: Kpi {
            id: row.try_get("kpi_id").db()?,
            label: row.try_get("label").db()?,
            value: json_from_text(&value)?,
            trend: optional_json("trend")?,
            status: row.try_get("status").db()?,
            chart: optional_json("chart")?,
        },
        previous: optional_json("previous")?,
        updated_at_ms: row.try_get("updated_at_ms").db()?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::both_backends;
    use super::*;

    fn kpi(id: &str, value: Value) -> Kpi {
        Kpi {
            id: id.into(),
            label: id.to_uppercase(),
            value,
            trend: None,
            status: None,
            chart: None,
        }
    }

    async fn upsert_keeps_first_insert_order_and_previous(store: Store, _url: String) {
        let first = store
            .upsert_kpis("crm", &[kpi("zeta", json!(1)), kpi("alpha", json!(2))], 100)
            .await
            .unwrap();
        let ids: Vec<_> = first.iter().map(|r| r.kpi.id.as_str()).collect();
        assert_eq!(ids, ["zeta", "alpha"]);
        assert!(first
            .iter()
            .all(|r| r.previous.is_none() && r.updated_at_ms == 100));

        // Update alpha (new value), add mid, re-send zeta unchanged.
        let mut alpha = kpi("alpha", json!(5));
        alpha.trend = Some(json!("+150%"));
        alpha.status = Some("success".into());
        alpha.chart = Some(json!({ "points": [1, 2, 5] }));
        let after = store
            .upsert_kpis(
                "crm",
                &[alpha.clone(), kpi("mid", json!("x")), kpi("zeta", json!(1))],
                200,
            )
            .await
            .unwrap();
        let ids: Vec<_> = after.iter().map(|r| r.kpi.id.as_str()).collect();
        assert_eq!(ids, ["zeta", "alpha", "mid"]);
        assert_eq!(after[1].kpi, alpha);
        assert_eq!(after[1].previous, Some(json!(2)));
        assert_eq!(after[1].updated_at_ms, 200);
        assert_eq!(after[0].previous, None, "unchanged value keeps no previous");

        // Same value again: `previous` is kept, not overwritten with the same value.
        let again = store
            .upsert_kpis("crm", &[alpha.clone()], 300)
            .await
            .unwrap();
        assert_eq!(again[1].kpi.value, json!(5));
        assert_eq!(again[1].previous, Some(json!(2)));
        // Dropping optional fields on upsert clears them.
        let again = store
            .upsert_kpis("crm", &[kpi("alpha", json!(6))], 400)
            .await
            .unwrap();
        assert_eq!(again[1].kpi, kpi("alpha", json!(6)));
        assert_eq!(again[1].previous, Some(json!(5)));

        assert_eq!(store.kpis("crm").await.unwrap(), again);
    }
    both_backends!(upsert_keeps_first_insert_order_and_previous);

    async fn kpis_are_per_module(store: Store, _url: String) {
        assert!(store.kpis("nope").await.unwrap().is_empty());
        assert!(store.all_kpis().await.unwrap().is_empty());
        store
            .upsert_kpis("hr", &[kpi("a", json!(1)), kpi("b", json!(2))], 1)
            .await
            .unwrap();
        store
            .upsert_kpis("finance", &[kpi("a", json!(10))], 2)
            .await
            .unwrap();
        // Upserting an empty list changes nothing and returns the list.
        assert_eq!(store.upsert_kpis("hr", &[], 3).await.unwrap().len(), 2);

        let hr = store.kpis("hr").await.unwrap();
        assert_eq!(hr.len(), 2);
        let finance = store.kpis("finance").await.unwrap();
        assert_eq!(finance.len(), 1);
        assert_eq!(finance[0].kpi.value, json!(10));

        let all = store.all_kpis().await.unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["finance", "hr"]);
        assert_eq!(all["hr"], hr);
        assert_eq!(all["finance"], finance);
    }
    both_backends!(kpis_are_per_module);

    async fn concurrent_upserts_all_land(store: Store, _url: String) {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    for round in 0..5 {
                        let k = kpi(&format!("k{i:02}"), json!(round));
                        store.upsert_kpis("security", &[k], round).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let all = store.kpis("security").await.unwrap();
        assert_eq!(all.len(), 16);
        assert!(all
            .iter()
            .all(|r| r.kpi.value == json!(4) && r.previous == Some(json!(3))));
    }
    both_backends!(concurrent_upserts_all_land);

    #[test]
    fn records_serialize_like_kpis() {
        let record = KpiRecord {
            kpi: Kpi {
                id: "r".into(),
                label: "Revenue".into(),
                value: json!(12.5),
                trend: Some(json!("+3%")),
                status: Some("success".into()),
                chart: None,
            },
            previous: Some(json!(10)),
            updated_at_ms: 5,
        };
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            json!({ "id": "r", "label": "Revenue", "value": 12.5, "trend": "+3%", "status": "success" })
        );
        let parsed: Kpi =
            serde_json::from_value(json!({ "id": "x", "label": "X", "value": [1] })).unwrap();
        assert_eq!(parsed.trend, None);
    }
}
