//! API paths as they go on the wire: every segment percent-encoded, the separators kept, and no
//! `.` or `..` segment, which URL parsers collapse (`secret/a/../../kv2` is `kv2` on the wire).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are in a path segment: RFC 3986 unreserved.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes every segment of an API path, keeping the `/` separators.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|seg| utf8_percent_encode(seg, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Why `path` cannot be sent: a `.` or `..` segment, which would take the request elsewhere.
pub fn dot_segment(path: &str) -> Option<&str> {
    path.split('/').find(|seg| *seg == "." || *seg == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_path_escapes_awkward_characters_but_keeps_separators() {
        assert_eq!(
            encode_path("secret/data/a b/ü?#%+&=:;'\""),
            "secret/data/a%20b/%C3%BC%3F%23%25%2B%26%3D%3A%3B%27%22"
        );
        assert_eq!(encode_path("secret/metadata/dir/"), "secret/metadata/dir/");
    }

    #[test]
    fn dot_segments_are_found_wherever_they_are() {
        assert_eq!(dot_segment("secret/app/../../../kv2/data/app"), Some(".."));
        assert_eq!(dot_segment("./secret/x"), Some("."));
        assert_eq!(dot_segment("secret/metadata/dir/.."), Some(".."));
        assert_eq!(dot_segment("secret/a.b/..c/.../.d/"), None);
    }
}
