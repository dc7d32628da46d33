//! Where and how to reach an S3 bucket: the location, endpoint, region, credentials and transfer sizes, from
//! CREATE REPOSITORY's properties or the AWS environment variables.

use std::time::Duration;

use crate::{Error, ErrorKind, Result};

/// Where and how to reach a bucket.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `http(s)://host[:port]` of the S3 service.
    pub endpoint: String,
    /// The region (`us-east-1` when the service does not care).
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// The key prefix inside the bucket (no leading or trailing `/`), may be empty.
    pub prefix: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`, MinIO, SeaweedFS) instead of virtual-host style.
    pub path_style: bool,
    /// Objects larger than this go up in parts.
    pub multipart_threshold: usize,
    /// Part size of multipart uploads (at least 5 MiB, S3's minimum).
    pub part_size: usize,
    /// Parts uploaded at once per object.
    pub part_concurrency: usize,
    /// Timeout of one request.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// A config for `location` (`s3://bucket[/prefix]`) with the given endpoint and credentials, and defaults
    /// for the rest (16 MiB multipart threshold, 8 MiB parts, 4 parts at once, 120 s per request).
    ///
    /// # Errors
    /// A location that is not `s3://bucket[/prefix]`.
    pub fn new(location: &str, endpoint: &str, region: &str, access_key: &str, secret_key: &str) -> Result<S3Config> {
        let rest = location.strip_prefix("s3://").ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument, "Invalid export path. please use valid 's3://' path.")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("location {location} names no bucket")));
        }
        let endpoint = if endpoint.contains("://") { endpoint.to_owned() } else { format!("https://{endpoint}") };
        Ok(S3Config {
            endpoint,
            region: if region.is_empty() { "us-east-1".into() } else { region.into() },
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').into(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            session_token: None,
            path_style: true,
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            part_concurrency: 4,
            request_timeout: Duration::from_secs(120),
        })
    }

    /// Reads Doris's repository properties (`s3.endpoint`, `s3.region`, `s3.access_key`, `s3.secret_key`,
    /// `s3.session_token`, `use_path_style`, and the legacy `AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY`,
    /// `AWS_SECRET_KEY`, `AWS_TOKEN`), falling back to the standard AWS environment variables.
    ///
    /// # Errors
    /// A missing endpoint or credentials, naming the property to set.
    pub fn from_properties(location: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<S3Config> {
        let pick = |names: &[&str], env: &[&str]| -> Option<String> {
            names
                .iter()
                .find_map(|n| get(n))
                .or_else(|| env.iter().find_map(|e| std::env::var(e).ok()))
                .filter(|v| !v.is_empty())
        };
        let missing = |what: &str| Error::new(ErrorKind::InvalidArgument, format!("S3 repository needs {what}"));
        let endpoint = pick(&["s3.endpoint", "AWS_ENDPOINT"], &["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])
            .ok_or_else(|| missing("\"s3.endpoint\" (or AWS_ENDPOINT_URL in the environment)"))?;
        let region = pick(&["s3.region", "AWS_REGION"], &["AWS_REGION", "AWS_DEFAULT_REGION"]).unwrap_or_default();
        let key = pick(&["s3.access_key", "AWS_ACCESS_KEY"], &["AWS_ACCESS_KEY_ID"])
            .ok_or_else(|| missing("\"s3.access_key\" (or AWS_ACCESS_KEY_ID in the environment)"))?;
        let secret = pick(&["s3.secret_key", "AWS_SECRET_KEY"], &["AWS_SECRET_ACCESS_KEY"])
            .ok_or_else(|| missing("\"s3.secret_key\" (or AWS_SECRET_ACCESS_KEY in the environment)"))?;
        let mut c = S3Config::new(location, &endpoint, &region, &key, &secret)?;
        c.session_token = pick(&["s3.session_token", "AWS_TOKEN"], &["AWS_SESSION_TOKEN"]);
        if let Some(v) = get("use_path_style") {
            c.path_style = v.eq_ignore_ascii_case("true");
        }
        Ok(c)
    }
}
