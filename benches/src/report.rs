//! The one table every benchmark run prints.

use crate::load::LoadResult;

pub struct Row {
    name: String,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    /// Whether the row is a redirect that compares with the bare server.
    comparable: bool,
}

impl Row {
    /// A row measured by the benchmark itself rather than by the load generator.
    pub fn timed(name: &str, per_second: f64, p50_ms: f64, p99_ms: f64) -> Self {
        Self {
            name: name.to_owned(),
            per_second,
            p50_ms,
            p99_ms,
            errors: 0,
            comparable: false,
        }
    }

    pub fn load(name: &str, result: &LoadResult, comparable: bool) -> Self {
        Self {
            name: name.to_owned(),
            per_second: result.per_second(),
            p50_ms: result.p50.as_secs_f64() * 1000.0,
            p99_ms: result.p99.as_secs_f64() * 1000.0,
            errors: result.errors,
            comparable,
        }
    }

    /// A row of a throughput measured without the load generator, such as background jobs
    /// per second. It has no ratio, because the bare server does no comparable work.
    pub fn throughput(
        name: &str,
        per_second: f64,
        p50: std::time::Duration,
        p99: std::time::Duration,
        errors: u64,
    ) -> Self {
        Self {
            name: name.to_owned(),
            per_second,
            p50_ms: p50.as_secs_f64() * 1000.0,
            p99_ms: p99.as_secs_f64() * 1000.0,
            errors,
            comparable: false,
        }
    }
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    baseline: Option<f64>,
}

impl Report {
    /// Sets the bare server's hot-redirect throughput that ratios are computed against.
    pub fn set_baseline(&mut self, per_second: f64) {
        self.baseline = Some(per_second);
    }

    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// Renders the table as Markdown, ready for docs/benchmarks.md.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "| benchmark | requests/s | p50 ms | p99 ms | errors | ratio to bare hyper |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for row in &self.rows {
            let ratio = match (row.comparable, self.baseline) {
                (true, Some(baseline)) if baseline > 0.0 => {
                    format!("{:.2}", row.per_second / baseline)
                }
                _ => "—".to_owned(),
            };
            out.push_str(&format!(
                "| {} | {:.0} | {:.2} | {:.2} | {} | {} |\n",
                row.name, row.per_second, row.p50_ms, row.p99_ms, row.errors, ratio
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("\n- {note}"));
        }
        out.push('\n');
        out
    }
}
