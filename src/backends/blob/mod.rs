//! Blob store implementations: files under a directory ([`fs::FsBlobStore`], the embedded
//! default) and an S3 bucket ([`s3::S3BlobStore`]). [`connect`] picks one from the settings.

pub mod fs;
pub mod s3;

use crate::settings::{BlobBackend, BlobSettings, Settings};
use anyhow::{Context, bail};
use linkyard_actors::backends::blob::{BlobStore, check_key};
use std::sync::Arc;
use std::time::Duration;

/// Opens the configured blob store: creates the filesystem store's directory and checks that
/// it is writable, or creates the S3 bucket when it is missing.
pub async fn connect(settings: &Settings) -> anyhow::Result<Arc<dyn BlobStore>> {
    match settings.blob.backend {
        BlobBackend::Filesystem => {
            let dir = settings.blob_dir();
            let store = fs::FsBlobStore::open(&dir)
                .await
                .with_context(|| format!("opening the blob directory {}", dir.display()))?;
            store
                .ping()
                .await
                .with_context(|| format!("writing to the blob directory {}", dir.display()))?;
            tracing::info!(dir = %dir.display(), "blob store: filesystem");
            Ok(Arc::new(store))
        }
        BlobBackend::S3 => {
            let options = s3_options(&settings.blob)?;
            let endpoint = options.endpoint.clone().unwrap_or_else(|| "AWS".to_owned());
            let store = s3::S3BlobStore::connect(options)
                .await
                .with_context(|| format!("connecting to the S3 blob store at {endpoint}"))?;
            tracing::info!(%endpoint, bucket = store.bucket(), "blob store: s3");
            Ok(Arc::new(store))
        }
    }
}

/// Checks the S3 settings and normalizes them: an empty endpoint means AWS, and a non-empty
/// prefix ends in exactly one `/`.
pub fn s3_options(settings: &BlobSettings) -> anyhow::Result<s3::S3Options> {
    let endpoint = settings.s3_endpoint.trim();
    let endpoint = if endpoint.is_empty() {
        None
    } else {
        let url = url::Url::parse(endpoint)
            .with_context(|| format!("blob.s3_endpoint '{endpoint}' is not a valid URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("blob.s3_endpoint '{endpoint}' must be an http or https URL");
        }
        Some(endpoint.trim_end_matches('/').to_owned())
    };
    for (key, value) in [
        ("blob.s3_region", &settings.s3_region),
        ("blob.s3_bucket", &settings.s3_bucket),
        ("blob.s3_access_key", &settings.s3_access_key),
    ] {
        if value.trim().is_empty() {
            bail!("{key} is empty; set it when blob.backend is \"s3\"");
        }
    }
    if settings.s3_secret_key.expose().is_empty() {
        bail!("blob.s3_secret_key is empty; set it when blob.backend is \"s3\"");
    }

    Ok(s3::S3Options {
        endpoint,
        region: settings.s3_region.trim().to_owned(),
        bucket: settings.s3_bucket.trim().to_owned(),
        access_key: settings.s3_access_key.clone(),
        secret_key: settings.s3_secret_key.clone(),
        prefix: normalize_prefix(&settings.s3_prefix)?,
        force_path_style: settings.s3_force_path_style,
        connect_timeout: Duration::from_millis(settings.s3_connect_timeout_ms.max(1)),
        operation_timeout: Duration::from_millis(settings.s3_operation_timeout_ms.max(1)),
        max_attempts: settings.s3_max_attempts.max(1),
    })
}

fn normalize_prefix(prefix: &str) -> anyhow::Result<String> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    check_key(trimmed).with_context(|| format!("blob.s3_prefix '{prefix}' is invalid"))?;
    Ok(format!("{trimmed}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_settings() -> BlobSettings {
        let mut blob = Settings::embedded_defaults().expect("defaults parse").blob;
        blob.backend = BlobBackend::S3;
        blob.s3_endpoint = "http://127.0.0.1:9000/".to_owned();
        blob.s3_access_key = "access".to_owned();
        blob.s3_secret_key = crate::settings::SecretString::new("secret");
        blob
    }

    #[test]
    fn s3_options_normalize_endpoint_and_prefix() {
        let mut settings = s3_settings();
        settings.s3_prefix = "/linkyard/prod/".to_owned();
        let options = s3_options(&settings).expect("valid settings");
        assert_eq!(options.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(options.prefix, "linkyard/prod/");
        assert!(options.force_path_style);
    }

    #[test]
    fn empty_s3_endpoint_means_aws() {
        let mut settings = s3_settings();
        settings.s3_endpoint = String::new();
        let options = s3_options(&settings).expect("valid settings");
        assert_eq!(options.endpoint, None);
        assert_eq!(options.prefix, "");
    }

    #[test]
    fn s3_options_reject_bad_settings() {
        let mut settings = s3_settings();
        settings.s3_endpoint = "ftp://example.com".to_owned();
        let error = s3_options(&settings).expect_err("ftp endpoint").to_string();
        assert!(error.contains("ftp://example.com"), "{error}");

        let mut settings = s3_settings();
        settings.s3_access_key = String::new();
        let error = s3_options(&settings)
            .expect_err("no access key")
            .to_string();
        assert!(error.contains("blob.s3_access_key"), "{error}");

        let mut settings = s3_settings();
        settings.s3_secret_key = crate::settings::SecretString::new("");
        let error = s3_options(&settings)
            .expect_err("no secret key")
            .to_string();
        assert!(error.contains("blob.s3_secret_key"), "{error}");

        let mut settings = s3_settings();
        settings.s3_prefix = "a/../b".to_owned();
        let error = s3_options(&settings).expect_err("bad prefix").to_string();
        assert!(error.contains("a/../b"), "{error}");
    }

    #[test]
    fn s3_options_debug_output_hides_the_secret() {
        let options = s3_options(&s3_settings()).expect("valid settings");
        let debug = format!("{options:?}");
        assert!(!debug.contains("\"secret\""), "{debug}");
    }
}
