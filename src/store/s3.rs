//! A snapshot store on S3-compatible object storage (AWS S3, MinIO, Garage).
//!
//! Credentials, region and endpoint come from the AWS SDK's standard chain (`AWS_*` variables,
//! profiles, web identity for IRSA). With a custom endpoint (`AWS_ENDPOINT_URL`), path-style
//! addressing is used, as MinIO and Garage expect. Checksums are only sent where S3 requires them,
//! which every S3-compatible server accepts.

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;

use super::{
    Body, ByteRange, MAX_SMALL_OBJECT, ObjectInfo, PART_SIZE, ReadStore, Stat, Store, check_key,
    too_large,
};
use crate::error::{Error, Result};

pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    pub async fn new(bucket: &str, prefix: &str) -> Result<Self> {
        let region = RegionProviderChain::default_provider().or_else(Region::new("us-east-1"));
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .load()
            .await;
        let custom_endpoint = sdk.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(custom_endpoint)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Ok(S3Store {
            client: Client::from_conf(conf),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, key: &str) -> Result<String> {
        check_key(&self.location(), key)?;
        Ok(if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        })
    }

    /// One clear line for an SDK error: unreachable, missing bucket, missing key, denied.
    fn error<E>(&self, op: &str, key: &str, err: SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let location = self.location();
        let (code, message, status) = match &err {
            SdkError::ServiceError(se) => (
                se.err().code().map(str::to_string),
                se.err().message().map(str::to_string),
                Some(se.raw().status().as_u16()),
            ),
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                return Error::Store {
                    location,
                    message: format!("cannot reach S3: {}", DisplayErrorContext(&err)),
                };
            }
            _ => {
                return Error::Store {
                    location,
                    message: format!("{op} {key}: {}", DisplayErrorContext(&err)),
                };
            }
        };
        match (code.as_deref(), status) {
            (Some("NoSuchBucket"), _) => Error::Store {
                location,
                message: format!("bucket `{}` does not exist", self.bucket),
            },
            (Some("NoSuchKey") | Some("NotFound"), _) | (None, Some(404)) => Error::NotFound {
                location,
                what: key.to_string(),
            },
            (c, s) => Error::Store {
                location,
                message: format!(
                    "{op} {key}: {}{}",
                    c.unwrap_or("error"),
                    match (message, s) {
                        (Some(m), Some(s)) => format!(": {m} (HTTP {s})"),
                        (Some(m), None) => format!(": {m}"),
                        (None, Some(s)) => format!(" (HTTP {s})"),
                        (None, None) => String::new(),
                    }
                ),
            },
        }
    }
}

impl S3Store {
    async fn get_object(&self, key: &str) -> Result<GetObjectOutput> {
        let full = self.key(key)?;
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| self.error("get", key, e))
    }
}

/// Up to `PART_SIZE` bytes of the body; fewer only at its end.
async fn next_part(body: Body<'_>, key: &str, store: &S3Store) -> Result<Vec<u8>> {
    let mut part = Vec::with_capacity(PART_SIZE);
    (&mut *body)
        .take(PART_SIZE as u64)
        .read_to_end(&mut part)
        .await
        .map_err(|e| Error::Store {
            location: store.location(),
            message: format!("upload {key}: {e}"),
        })?;
    Ok(part)
}

fn to_chrono(t: &aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

#[async_trait]
impl ReadStore for S3Store {
    fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    async fn list(&self) -> Result<Vec<ObjectInfo>> {
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("list", &prefix, e))?;
            for obj in page.contents() {
                let Some(key) = obj.key().and_then(|k| k.strip_prefix(&prefix)) else {
                    continue;
                };
                out.push(ObjectInfo {
                    key: key.to_string(),
                    size: obj.size().unwrap_or(0).max(0) as u64,
                    modified: obj.last_modified().and_then(to_chrono),
                });
            }
        }
        Ok(out)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let resp = match self.get_object(key).await {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = resp.content_length().unwrap_or(0).max(0) as u64;
        if size > MAX_SMALL_OBJECT {
            return Err(too_large(key, size));
        }
        // Read no further than the cap, whatever the length header said.
        let mut buf = Vec::new();
        resp.body
            .into_async_read()
            .take(MAX_SMALL_OBJECT + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| Error::Store {
                location: self.location(),
                message: format!("get {key}: {e}"),
            })?;
        if buf.len() as u64 > MAX_SMALL_OBJECT {
            return Err(too_large(key, buf.len() as u64));
        }
        Ok(Some(buf))
    }

    async fn stat(&self, key: &str) -> Result<Stat> {
        let full = self.key(key)?;
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| self.error("head", key, e))?;
        Ok(Stat {
            size: head.content_length().unwrap_or(0).max(0) as u64,
            etag: head.e_tag().map(str::to_string),
        })
    }

    async fn get_range(&self, key: &str, range: &ByteRange) -> Result<Vec<u8>> {
        let full = self.key(key)?;
        let (start, end) = (range.start, range.start + range.len.max(1) - 1);
        let resp = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .range(format!("bytes={start}-{end}"))
            .set_if_match(range.etag.clone())
            .send()
            .await
            .map_err(|e| self.error("get", key, e))?;
        let bytes = resp.body.collect().await.map_err(|e| Error::Store {
            location: self.location(),
            message: format!("get {key}: {e}"),
        })?;
        Ok(bytes.into_bytes().to_vec())
    }
}

#[async_trait]
impl Store for S3Store {
    async fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        let full = self.key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| self.error("put", key, e))?;
        Ok(())
    }

    async fn put_if(&self, key: &str, data: Vec<u8>, expected: Option<&str>) -> Result<()> {
        let full = self.key(key)?;
        let put = self.client.put_object().bucket(&self.bucket).key(&full);
        let put = match expected {
            Some(tag) => put.if_match(tag),
            None => put.if_none_match("*"),
        };
        match put.body(ByteStream::from(data)).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.raw_response()
                    .is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
            {
                Err(Error::Conflict {
                    location: self.location(),
                    key: key.to_string(),
                })
            }
            Err(e) => Err(self.error("put", key, e)),
        }
    }

    async fn put_stream(&self, key: &str, body: Body<'_>) -> Result<u64> {
        let mut part = next_part(body, key, self).await?;
        if part.len() < PART_SIZE {
            let size = part.len() as u64;
            self.put(key, part).await?;
            return Ok(size);
        }
        let full = self.key(key)?;
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| self.error("start upload of", key, e))?;
        let id = upload.upload_id().unwrap_or_default().to_string();
        let mut parts = Vec::new();
        let mut size = 0u64;
        let uploaded = async {
            while !part.is_empty() {
                let number = parts.len() as i32 + 1;
                size += part.len() as u64;
                let done = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(&full)
                    .upload_id(&id)
                    .part_number(number)
                    .body(ByteStream::from(part))
                    .send()
                    .await
                    .map_err(|e| self.error("upload part of", key, e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(done.e_tag().map(str::to_string))
                        .build(),
                );
                part = next_part(body, key, self).await?;
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&full)
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(std::mem::take(&mut parts)))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.error("complete upload of", key, e))?;
            Ok::<_, Error>(size)
        }
        .await;
        if uploaded.is_err() {
            // Best effort: a bucket lifecycle rule for incomplete uploads catches the rest.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&full)
                .upload_id(&id)
                .send()
                .await;
        }
        uploaded
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let full = self.key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| self.error("delete", key, e))?;
        Ok(())
    }
}
