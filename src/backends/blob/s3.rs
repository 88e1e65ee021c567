//! The S3 blob store: one object per key in a bucket, through aws-sdk-s3. It works with AWS
//! and with S3-compatible servers such as MinIO and SeaweedFS (custom endpoint, path-style
//! addressing, static credentials).
//!
//! Every key gets the configured prefix, so that deployments and test runs can share a bucket.
//! S3 stores the content type itself, and a PUT replaces an object atomically. Each call is
//! bounded by the connect and operation timeouts, so an unreachable server fails the call
//! within the operation timeout instead of hanging.
//!
//! Listings come in the server's order. AWS S3 and MinIO use byte order. SeaweedFS 4.48 walks
//! its directory tree: it lists `a/b` before `a-c`, and it applies `start-after` in that same
//! order, so paging from the last key of each page still returns every key once. A
//! `start-after` that names a directory (`a` while `a/b` exists) skips that whole directory
//! on SeaweedFS.

use crate::settings::SecretString;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Object};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use linkyard_actors::backends::blob::{
    Blob, BlobEntry, BlobError, BlobStore, check_content_type, check_key,
};
use std::future::Future;
use std::time::Duration;

const BACKEND: &str = "s3";

/// The content type reported for an object stored without one by another S3 client.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The maximum number of keys that one ListObjectsV2 call returns.
const MAX_LIST_PAGE: usize = 1000;

/// Connection settings, checked and normalized by `backends::blob::connect`.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Base URL of the S3 API, or `None` for AWS S3 in `region`.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: SecretString,
    /// Prepended to every key: empty, or ending in `/`.
    pub prefix: String,
    pub force_path_style: bool,
    pub connect_timeout: Duration,
    /// Limit on one call, all retries included.
    pub operation_timeout: Duration,
    /// Attempts per call, the first one included.
    pub max_attempts: u32,
}

/// Blob store on an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    prefix: String,
    operation_timeout: Duration,
}

impl S3BlobStore {
    /// Builds the client and creates the bucket when it is missing.
    pub async fn connect(options: S3Options) -> Result<Self, BlobError> {
        let store = Self {
            client: Client::from_conf(client_config(&options)),
            bucket: options.bucket.clone(),
            prefix: options.prefix.clone(),
            operation_timeout: options.operation_timeout,
        };
        store.ensure_bucket(&options.region).await?;
        Ok(store)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn ensure_bucket(&self, region: &str) -> Result<(), BlobError> {
        let head = self.client.head_bucket().bucket(&self.bucket).send().await;
        match head {
            Ok(_) => return Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {}
            Err(error) => return Err(unavailable("head_bucket", &error)),
        }

        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // AWS rejects an explicit us-east-1 constraint and requires one for every other region.
        if region != "us-east-1" {
            let location = BucketLocationConstraint::from(region);
            let configuration = CreateBucketConfiguration::builder()
                .location_constraint(location)
                .build();
            create = create.create_bucket_configuration(configuration);
        }
        match create.send().await {
            Ok(_) => {
                tracing::info!(bucket = %self.bucket, "created the S3 bucket");
                Ok(())
            }
            // Another instance created it between our HEAD and CREATE.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(error) => Err(unavailable("create_bucket", &error)),
        }
    }

    fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Bounds a call whose response body is read after the SDK call returns, which the SDK's
    /// operation timeout does not cover.
    async fn within_deadline<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, BlobError>>,
    ) -> Result<T, BlobError> {
        match tokio::time::timeout(self.operation_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(BlobError::Unavailable {
                backend: BACKEND,
                operation,
                message: format!("timed out after {} ms", self.operation_timeout.as_millis()),
            }),
        }
    }

    fn entry(&self, object: &Object) -> Option<BlobEntry> {
        let key = object.key()?.strip_prefix(&self.prefix)?;
        // Objects written by other clients may have keys that the filesystem store would
        // reject. Both stores list only valid keys.
        check_key(key).ok()?;
        let last_modified = object
            .last_modified()
            .and_then(|time| DateTime::<Utc>::from_timestamp(time.secs(), time.subsec_nanos()));
        Some(BlobEntry {
            key: key.to_owned(),
            size: object
                .size()
                .and_then(|size| u64::try_from(size).ok())
                .unwrap_or(0),
            last_modified,
        })
    }
}

fn client_config(options: &S3Options) -> aws_sdk_s3::Config {
    let credentials = Credentials::new(
        &options.access_key,
        options.secret_key.expose(),
        None,
        None,
        "linkyard-settings",
    );
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(options.connect_timeout)
        .operation_timeout(options.operation_timeout)
        .build();
    let retries = RetryConfig::standard().with_max_attempts(options.max_attempts.max(1));
    let mut builder = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(options.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(options.force_path_style)
        .timeout_config(timeouts)
        .retry_config(retries);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

/// Wraps an SDK failure with its whole cause chain, such as the connection error under a
/// dispatch failure.
fn unavailable(operation: &'static str, error: &dyn std::error::Error) -> BlobError {
    BlobError::Unavailable {
        backend: BACKEND,
        operation,
        message: DisplayErrorContext(error).to_string(),
    }
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        check_key(key)?;
        check_content_type(content_type)?;

        let length = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .content_type(content_type)
            .content_length(length)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|error| unavailable("put", &error))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        check_key(key)?;

        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key));
        let call = async {
            let output = match request.send().await {
                Ok(output) => output,
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(GetObjectError::is_no_such_key) =>
                {
                    return Ok(None);
                }
                Err(error) => return Err(unavailable("get", &error)),
            };
            let content_type = output
                .content_type()
                .unwrap_or(DEFAULT_CONTENT_TYPE)
                .to_owned();
            let body = output
                .body
                .collect()
                .await
                .map_err(|error| unavailable("get", &error))?;
            Ok(Some(Blob {
                bytes: body.into_bytes(),
                content_type,
            }))
        };
        self.within_deadline("get", call).await
    }

    async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        check_key(key)?;

        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await;
        match head {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(error) => Err(unavailable("exists", &error)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;

        let deleted = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // S3 returns 204 for a missing key, but some compatible servers return NoSuchKey.
            Err(error) if error.as_service_error().and_then(|e| e.code()) == Some("NoSuchKey") => {
                Ok(())
            }
            Err(error) => Err(unavailable("delete", &error)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BlobEntry>, BlobError> {
        let full_prefix = self.object_key(prefix);
        let mut start_after = after.map(|after| self.object_key(after));
        if let Some(after) = &start_after {
            if after.as_str() > full_prefix.as_str() && !after.starts_with(&full_prefix) {
                // Every key with the prefix sorts before `after`.
                return Ok(Vec::new());
            }
            if after.as_str() < full_prefix.as_str() {
                // Every key with the prefix sorts after `after`. Some servers (SeaweedFS 4.47)
                // return nothing for such a start-after, so it is left out.
                start_after = None;
            }
        }
        let mut entries = Vec::new();

        // Each page starts after the last key of the previous one, rather than at a
        // continuation token, which S3-compatible servers implement less uniformly.
        while entries.len() < limit {
            let page_size = (limit - entries.len()).min(MAX_LIST_PAGE);
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full_prefix)
                .set_start_after(start_after.clone())
                .max_keys(i32::try_from(page_size).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|error| unavailable("list", &error))?;

            let objects = output.contents();
            entries.extend(objects.iter().filter_map(|object| self.entry(object)));
            let last_key = objects.last().and_then(Object::key);
            match last_key {
                Some(last_key) if output.is_truncated().unwrap_or(false) => {
                    start_after = Some(last_key.to_owned());
                }
                _ => break,
            }
        }
        entries.truncate(limit);
        Ok(entries)
    }

    async fn ping(&self) -> Result<(), BlobError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|error| unavailable("ping", &error))?;
        Ok(())
    }
}
