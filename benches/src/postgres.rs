//! A PostgreSQL database created for one benchmark run and dropped after it.

use sea_orm::{ConnectionTrait, Database};

pub struct BenchDatabase {
    pub url: String,
    server: String,
    name: String,
}

impl BenchDatabase {
    /// Creates a database on `LINKYARD_BENCH_POSTGRES_URL` (default the local server), or returns
    /// `None` when the server is unreachable.
    pub async fn create() -> anyhow::Result<Option<Self>> {
        let server = std::env::var("LINKYARD_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        let Ok(admin) = Database::connect(format!("{server}/postgres")).await else {
            return Ok(None);
        };
        let name = format!("linkyard_bench_{:016x}", rand::random::<u64>());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        admin.close().await?;
        Ok(Some(Self {
            url: format!("{server}/{name}"),
            server,
            name,
        }))
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        let admin = Database::connect(format!("{}/postgres", self.server)).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        admin.execute_unprepared(&sql).await?;
        admin.close().await?;
        Ok(())
    }
}
