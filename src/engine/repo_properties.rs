//! CREATE REPOSITORY's properties: each one tabsnap knows does what Doris's does (or what tabsnap documents);
//! any other is refused with an error naming it.

use super::analysis;
use super::encryption::prop;
use crate::Result;
use crate::pack::CompressionMode;

/// The properties of an S3 repository: Doris's names, their legacy `AWS_*` forms, and tabsnap's limits.
const S3: &[&str] = &[
    "s3.endpoint",
    "s3.region",
    "s3.access_key",
    "s3.secret_key",
    "s3.session_token",
    "use_path_style",
    "AWS_ENDPOINT",
    "AWS_REGION",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "AWS_TOKEN",
    "s3.max_requests",
    "s3.bandwidth_limit",
    "provider",
    "delete_if_exists",
];

/// `provider` values that are plain S3 endpoints (Doris's Azure provider speaks another protocol).
const S3_PROVIDERS: &[&str] = &["S3", "AWS", "OSS", "COS", "OBS", "BOS", "GCP", "MINIO"];

/// The property that chooses how backups into a repository compress (`auto`, `zstd-N`, `none`), unless a
/// BACKUP's own `compression` overrides it.
pub(crate) const COMPRESSION: &str = "compression";

/// Encryption, retention and compression: properties of every repository, LOCAL, S3 or stored by the host
/// (checked where they are applied).
pub(crate) fn applies_to_every_kind(key: &str) -> bool {
    key == super::retention::RETENTION || key == COMPRESSION || key == "encryption" || key.starts_with("encryption.")
}

/// The `compression` a repository's properties give, if any.
///
/// # Errors
/// As [`read_compression`].
pub(crate) fn compression(props: &[(String, String)]) -> Result<Option<CompressionMode>> {
    prop(props, COMPRESSION).map(read_compression).transpose()
}

/// A `compression` value (a repository's or a BACKUP's).
///
/// # Errors
/// An analysis error naming the property and its valid values.
pub(crate) fn read_compression(value: &str) -> Result<CompressionMode> {
    value.parse().map_err(|e: crate::Error| analysis(e.message()))
}

/// Checks the properties of a CREATE REPOSITORY of `kind` (`LOCAL`, `S3`): encryption and retention are
/// checked where they are applied; everything else must be known here.
///
/// # Errors
/// An analysis error naming the first property tabsnap does not know for that kind, or a value it cannot honour.
pub(crate) fn check(kind: &str, properties: &[(String, String)]) -> Result<()> {
    for (k, v) in properties {
        if applies_to_every_kind(k) {
            continue;
        }
        let known = kind == "S3" && S3.contains(&k.as_str());
        if !known {
            return Err(analysis(format!("Unknown property \"{k}\" for a {kind} repository")));
        }
        match k.as_str() {
            "provider" if !S3_PROVIDERS.iter().any(|p| p.eq_ignore_ascii_case(v)) => {
                return Err(analysis(format!(
                    "provider \"{v}\" is not supported by tabsnap: use an S3-compatible endpoint ({})",
                    S3_PROVIDERS.join(", ")
                )));
            }
            "delete_if_exists" if v.eq_ignore_ascii_case("true") => {
                return Err(analysis(
                    "\"delete_if_exists\" = \"true\" is not supported by tabsnap: it never deletes a repository's \
                     data; DROP its snapshots or use a new location",
                ));
            }
            "delete_if_exists" | "use_path_style"
                if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") =>
            {
                return Err(analysis(format!("Property \"{k}\" must be \"true\" or \"false\", not \"{v}\"")));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check, compression};
    use crate::pack::CompressionMode;

    fn props(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn known_properties_pass_and_others_are_refused_by_name() {
        let s3 = props(&[("s3.endpoint", "http://h"), ("s3.access_key", "k"), ("use_path_style", "true")]);
        check("S3", &s3).unwrap();
        check("S3", &props(&[("provider", "minio"), ("delete_if_exists", "false")])).unwrap();
        check("LOCAL", &props(&[("retention", "keep_last=1"), ("encryption", "on")])).unwrap();
        let refused = [
            ("LOCAL", ("s3.endpoint", "x"), "Unknown property \"s3.endpoint\" for a LOCAL repository"),
            ("S3", ("s3.endpoit", "x"), "Unknown property \"s3.endpoit\""),
            ("S3", ("provider", "AZURE"), "provider \"AZURE\" is not supported"),
            ("S3", ("delete_if_exists", "true"), "never deletes"),
            ("S3", ("use_path_style", "yes"), "must be \"true\" or \"false\""),
        ];
        for (kind, (k, v), want) in refused {
            let e = check(kind, &props(&[(k, v)])).unwrap_err();
            assert!(e.message().contains(want), "{kind} {k}: {e}");
        }
    }

    #[test]
    fn compression_applies_to_every_kind_and_is_read_with_its_valid_values() {
        for kind in ["LOCAL", "S3"] {
            check(kind, &props(&[("compression", "zstd-5")])).unwrap();
        }
        assert_eq!(compression(&props(&[("compression", "zstd-5")])).unwrap(), Some(CompressionMode::Zstd(5)));
        assert_eq!(
            compression(&props(&[("compression", "none"), ("compression", "auto")])).unwrap(),
            Some(CompressionMode::Auto)
        );
        assert_eq!(compression(&props(&[("retention", "keep_last=1")])).unwrap(), None);
        let e = compression(&props(&[("compression", "zstd:5")])).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Analysis);
        assert!(e.message().starts_with("Invalid compression value: zstd:5. Must be 'auto', 'none'"), "{e}");
    }
}
