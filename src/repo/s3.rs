//! S3-compatible object storage: requests signed with SigV4 by `rusty-s3`, sent by the blocking `ureq` client
//! (no async runtime, nothing to break across a host's `fork()`).
//!
//! - create-if-absent is a PUT with `If-None-Match: *` (atomic on the server; never a rename);
//! - objects above the multipart threshold go up in parts, several parts at once; a content-addressed object
//!   (a pack) written twice has the same bytes, so only small objects (manifests) need the atomic form;
//! - ranged GETs, HEAD for sizes, ListObjectsV2 with pagination, DELETE;
//! - throttling (429, 503 SlowDown), 5xx and network errors are marked transient, for [`crate::repo::Retry`];
//! - credentials never appear in errors, logs or `describe()`.

use std::time::Duration;

use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::{ObjectInfo, Properties, PutMode, PutOutcome, Repository, S3Config};
use crate::{Error, ErrorKind, Result};

/// How presigned requests stay valid.
const SIGN_FOR: Duration = Duration::from_secs(3600);

/// A repository in an S3 bucket, under a prefix.
pub struct S3Repository {
    config: S3Config,
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
}

impl std::fmt::Debug for S3Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Repository").field("config", &self.config).finish_non_exhaustive()
    }
}

fn s3_error(status: u16, body: &str, what: &str, key: &str) -> Error {
    let code = xml_tag(body, "Code").unwrap_or_default();
    let message = xml_tag(body, "Message").unwrap_or_default();
    let hint = match (status, code.as_str()) {
        (403, "SignatureDoesNotMatch") => "the secret key is wrong (check s3.secret_key)",
        (403, "InvalidAccessKeyId") => "the access key is unknown (check s3.access_key)",
        (403, _) => "access denied (check the credentials and the bucket's policy)",
        (404, "NoSuchBucket") => "the bucket does not exist (check the location's bucket name)",
        (301, _) | (400, "AuthorizationHeaderMalformed") | (400, "IllegalLocationConstraintException") => {
            "the bucket lives in another region or needs another URL style (check s3.region and use_path_style)"
        }
        _ => "",
    };
    let mut msg = format!("S3 {what} {key}: HTTP {status}");
    if !code.is_empty() {
        msg.push_str(&format!(" {code}"));
    }
    if !message.is_empty() {
        msg.push_str(&format!(" ({message})"));
    }
    if !hint.is_empty() {
        msg.push_str(&format!(": {hint}"));
    }
    let kind = match status {
        404 => ErrorKind::NotFound,
        _ => ErrorKind::Repository,
    };
    let e = Error::new(kind, msg).with_object(key);
    if status == 429 || status >= 500 || code == "SlowDown" || code == "RequestTimeout" { e.transient() } else { e }
}

fn xml_tag(body: &str, tag: &str) -> Option<String> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].to_owned())
}

fn net_error(e: ureq::Error, what: &str, key: &str, endpoint: &str) -> Error {
    Error::new(ErrorKind::Repository, format!("S3 {what} {key}: cannot reach the endpoint {endpoint}: {e}"))
        .with_object(key)
        .transient()
}

impl S3Repository {
    /// Connects (lazily: no request is sent until the first call; see [`S3Repository::probe`]).
    ///
    /// # Errors
    /// An endpoint that is not an `http(s)://` URL, or a bucket name the URL style cannot carry.
    pub fn new(config: S3Config) -> Result<S3Repository> {
        let url = config.endpoint.parse().map_err(|e| {
            Error::new(ErrorKind::InvalidArgument, format!("s3.endpoint {:?} is not a URL: {e}", config.endpoint))
        })?;
        let style = if config.path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
        let bucket = Bucket::new(url, style, config.bucket.clone(), config.region.clone()).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot address bucket {} at {}: {e} (check use_path_style)", config.bucket, config.endpoint),
            )
        })?;
        let credentials = match &config.session_token {
            Some(t) => Credentials::new_with_token(config.access_key.clone(), config.secret_key.clone(), t.clone()),
            None => Credentials::new(config.access_key.clone(), config.secret_key.clone()),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.request_timeout))
            .build()
            .into();
        Ok(S3Repository { config, bucket, credentials, agent })
    }

    /// The config (its Debug form shows no secret).
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    fn full_key(&self, key: &str) -> String {
        if self.config.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.config.prefix) }
    }

    fn read_body(resp: ureq::http::Response<ureq::Body>, what: &str, key: &str) -> Result<(u16, Vec<u8>)> {
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let bytes = body.with_config().limit(u64::MAX).read_to_vec().map_err(|e| {
            Error::new(ErrorKind::Repository, format!("S3 {what} {key}: reading the response: {e}"))
                .with_object(key)
                .transient()
        })?;
        Ok((status, bytes))
    }

    /// Checks that the bucket answers with these credentials, and says which setting is wrong when not.
    ///
    /// # Errors
    /// An unreachable endpoint, a missing bucket, rejected credentials, or the wrong region/URL style, in words.
    pub fn probe(&self) -> Result<()> {
        self.list_page(&self.full_key(""), None, Some(1)).map(|_| ())
    }

    fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
        max: Option<usize>,
    ) -> Result<(Vec<ObjectInfo>, Option<String>)> {
        let mut action = ListObjectsV2::new(&self.bucket, Some(&self.credentials));
        action.with_prefix(prefix);
        if let Some(t) = token {
            action.with_continuation_token(t);
        }
        if let Some(m) = max {
            action.with_max_keys(m);
        }
        let url = action.sign(SIGN_FOR);
        let resp =
            self.agent.get(url.as_str()).call().map_err(|e| net_error(e, "list", prefix, &self.config.endpoint))?;
        let (status, body) = Self::read_body(resp, "list", prefix)?;
        let text = String::from_utf8_lossy(&body);
        if status != 200 {
            return Err(s3_error(status, &text, "list", &format!("s3://{}/{prefix}", self.config.bucket)));
        }
        let parsed = ListObjectsV2::parse_response(&text)
            .map_err(|e| Error::new(ErrorKind::Repository, format!("S3 list {prefix}: unreadable response: {e}")))?;
        let strip = if self.config.prefix.is_empty() { 0 } else { self.config.prefix.len() + 1 };
        let objects = parsed
            .contents
            .into_iter()
            .filter(|c| c.key.len() >= strip)
            .map(|c| ObjectInfo { key: c.key[strip..].to_owned(), size: c.size.unwrap_or(0) })
            .collect();
        Ok((objects, parsed.next_continuation_token))
    }

    fn put_single(&self, key: &str, full: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        let mut action = self.bucket.put_object(Some(&self.credentials), full);
        if mode == PutMode::CreateIfAbsent {
            action.headers_mut().insert("if-none-match", "*");
        }
        let url = action.sign(SIGN_FOR);
        let mut req = self.agent.put(url.as_str());
        if mode == PutMode::CreateIfAbsent {
            req = req.header("if-none-match", "*");
        }
        let resp = req.send(data).map_err(|e| net_error(e, "put", key, &self.config.endpoint))?;
        let (status, body) = Self::read_body(resp, "put", key)?;
        match status {
            200 | 201 => Ok(PutOutcome::Written),
            412 => Ok(PutOutcome::AlreadyExists),
            // A concurrent conditional write of the same key is in progress: retry, and the retry sees 412.
            409 => Err(s3_error(status, &String::from_utf8_lossy(&body), "put", key).transient()),
            _ => Err(s3_error(status, &String::from_utf8_lossy(&body), "put", key)),
        }
    }

    fn put_multipart(&self, key: &str, full: &str, data: &[u8]) -> Result<PutOutcome> {
        let create = CreateMultipartUpload::new(&self.bucket, Some(&self.credentials), full);
        let url = create.sign(SIGN_FOR);
        let resp = self
            .agent
            .post(url.as_str())
            .send_empty()
            .map_err(|e| net_error(e, "multipart create", key, &self.config.endpoint))?;
        let (status, body) = Self::read_body(resp, "multipart create", key)?;
        let text = String::from_utf8_lossy(&body);
        if status != 200 {
            return Err(s3_error(status, &text, "multipart create", key));
        }
        let created = CreateMultipartUpload::parse_response(&text).map_err(|e| {
            Error::new(ErrorKind::Repository, format!("S3 multipart create {key}: unreadable response: {e}"))
        })?;
        let upload_id = created.upload_id().to_owned();
        let parts: Vec<&[u8]> = data.chunks(self.config.part_size.max(5 << 20)).collect();
        let mut etags: Vec<Option<String>> = vec![None; parts.len()];
        let result = (|| -> Result<()> {
            for (batch_no, batch) in parts.chunks(self.config.part_concurrency.max(1)).enumerate() {
                let base = batch_no * self.config.part_concurrency.max(1);
                let results: Vec<Result<String>> = std::thread::scope(|s| {
                    let handles: Vec<_> = batch
                        .iter()
                        .enumerate()
                        .map(|(i, part)| {
                            let number = u16::try_from(base + i + 1).unwrap_or(u16::MAX);
                            let upload_id = upload_id.as_str();
                            s.spawn(move || self.upload_part(key, full, upload_id, number, part))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join()
                                .unwrap_or_else(|_| Err(Error::new(ErrorKind::Repository, "a part upload panicked")))
                        })
                        .collect()
                });
                for (i, r) in results.into_iter().enumerate() {
                    etags[base + i] = Some(r?);
                }
            }
            let tags: Vec<String> = etags.iter().map(|e| e.clone().unwrap_or_default()).collect();
            let complete = self.bucket.complete_multipart_upload(
                Some(&self.credentials),
                full,
                &upload_id,
                tags.iter().map(String::as_str),
            );
            let url = complete.sign(SIGN_FOR);
            let body = complete.body();
            let resp = self
                .agent
                .post(url.as_str())
                .send(body.as_bytes())
                .map_err(|e| net_error(e, "multipart complete", key, &self.config.endpoint))?;
            let (status, body) = Self::read_body(resp, "multipart complete", key)?;
            let text = String::from_utf8_lossy(&body);
            // S3 may answer 200 with an error document.
            if status != 200 || text.contains("<Error>") {
                return Err(s3_error(if status == 200 { 500 } else { status }, &text, "multipart complete", key));
            }
            Ok(())
        })();
        if result.is_err() {
            let abort = self.bucket.abort_multipart_upload(Some(&self.credentials), full, &upload_id);
            let _ = self.agent.delete(abort.sign(SIGN_FOR).as_str()).call();
        }
        result.map(|()| PutOutcome::Written)
    }

    fn upload_part(&self, key: &str, full: &str, upload_id: &str, number: u16, part: &[u8]) -> Result<String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let action = self.bucket.upload_part(Some(&self.credentials), full, number, upload_id);
            let url = action.sign(SIGN_FOR);
            let result = self
                .agent
                .put(url.as_str())
                .send(part)
                .map_err(|e| net_error(e, "upload part", key, &self.config.endpoint))
                .and_then(|resp| {
                    let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let (status, body) = Self::read_body(resp, "upload part", key)?;
                    match (status, etag) {
                        (200, Some(etag)) => Ok(etag),
                        (200, None) => Err(Error::new(
                            ErrorKind::Repository,
                            format!("S3 upload part {key}: no ETag in the answer"),
                        )),
                        _ => Err(s3_error(status, &String::from_utf8_lossy(&body), "upload part", key)),
                    }
                });
            match result {
                Err(e) if e.is_transient() && attempt < 4 => std::thread::sleep(Duration::from_millis(100 << attempt)),
                other => return other,
            }
        }
    }
}

impl Repository for S3Repository {
    fn properties(&self) -> Properties {
        Properties { max_concurrency: 0, atomic_create_if_absent: true }
    }

    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        super::check_key(key)?;
        let full = self.full_key(key);
        if data.len() > self.config.multipart_threshold {
            // Large objects are content-addressed packs: the same key always holds the same bytes, so a check
            // before the upload is enough; the atomic form guards the small objects that are commit points.
            if mode == PutMode::CreateIfAbsent && self.size(key)?.is_some() {
                return Ok(PutOutcome::AlreadyExists);
            }
            return self.put_multipart(key, &full, data);
        }
        self.put_single(key, &full, data, mode)
    }

    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        super::check_key(key)?;
        let full = self.full_key(key);
        if len == Some(0) {
            return Ok(Vec::new());
        }
        let action = self.bucket.get_object(Some(&self.credentials), &full);
        let url = action.sign(SIGN_FOR);
        let mut req = self.agent.get(url.as_str());
        match len {
            Some(n) => req = req.header("range", format!("bytes={offset}-{}", offset + n - 1)),
            None if offset > 0 => req = req.header("range", format!("bytes={offset}-")),
            None => {}
        }
        let resp = req.call().map_err(|e| net_error(e, "get", key, &self.config.endpoint))?;
        let (status, body) = Self::read_body(resp, "get", key)?;
        match status {
            200 | 206 => {
                if let Some(n) = len
                    && body.len() as u64 != n
                {
                    return Err(Error::new(
                        ErrorKind::Repository,
                        format!("S3 get {key}: short read ({} of {n} bytes)", body.len()),
                    )
                    .with_object(key));
                }
                Ok(body)
            }
            416 => {
                Err(Error::new(ErrorKind::Repository, format!("S3 get {key}: range {offset}+{len:?} is past its end"))
                    .with_object(key))
            }
            _ => Err(s3_error(status, &String::from_utf8_lossy(&body), "get", key)),
        }
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        super::check_key(key)?;
        let full = self.full_key(key);
        let action = self.bucket.head_object(Some(&self.credentials), &full);
        let url = action.sign(SIGN_FOR);
        let resp =
            self.agent.head(url.as_str()).call().map_err(|e| net_error(e, "head", key, &self.config.endpoint))?;
        let status = resp.status().as_u16();
        let length = resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        match status {
            200 => Ok(Some(length.unwrap_or(0))),
            404 => Ok(None),
            _ => Err(s3_error(status, "", "head", key)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let full = self.full_key(prefix);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (objects, next) = self.list_page(&full, token.as_deref(), None)?;
            out.extend(objects);
            match next {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        super::check_key(key)?;
        let full = self.full_key(key);
        let action = self.bucket.delete_object(Some(&self.credentials), &full);
        let url = action.sign(SIGN_FOR);
        let resp =
            self.agent.delete(url.as_str()).call().map_err(|e| net_error(e, "delete", key, &self.config.endpoint))?;
        let (status, body) = Self::read_body(resp, "delete", key)?;
        match status {
            200 | 204 | 404 => Ok(()),
            _ => Err(s3_error(status, &String::from_utf8_lossy(&body), "delete", key)),
        }
    }

    fn describe(&self) -> String {
        if self.config.prefix.is_empty() {
            format!("s3://{}", self.config.bucket)
        } else {
            format!("s3://{}/{}", self.config.bucket, self.config.prefix)
        }
    }
}
