//! From a request path to a file of the static mount, and its media type.
//!
//! The path is used as sent, without percent-decoding: our file names are
//! plain ASCII, and not decoding means `%2e%2e` or `%2f` can never become a
//! `..` segment or a separator. The WASI mount is a sandbox anyway; refusing
//! `..` here makes the intent explicit and the answer a clean 400.

use kit::Error;

/// The file a directory path serves.
const INDEX: &str = "index.html";

/// The filesystem path for `request_path`: `/` and any path ending in `/`
/// serve that directory's `index.html`.
pub fn resolve(request_path: &str) -> Result<String, Error> {
    if !request_path.starts_with('/') {
        return Err(invalid());
    }
    let has_bad_segment = request_path
        .split('/')
        .any(|segment| matches!(segment, "." | "..") || segment.contains(['\\', '\0']));
    if has_bad_segment {
        return Err(invalid());
    }
    if request_path.ends_with('/') {
        Ok(format!("{request_path}{INDEX}"))
    } else {
        Ok(request_path.to_owned())
    }
}

fn invalid() -> Error {
    Error::BadRequest("Invalid path.".to_owned())
}

/// The `Content-Type` for a file, from its extension.
pub fn content_type(path: &str) -> &'static str {
    match extension(path).as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

pub fn is_html(path: &str) -> bool {
    extension(path).as_deref() == Some("html")
}

fn extension(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let (_, extension) = name.rsplit_once('.')?;
    Some(extension.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_serves_the_index() {
        assert_eq!(resolve("/").ok().as_deref(), Some("/index.html"));
        assert_eq!(resolve("/docs/").ok().as_deref(), Some("/docs/index.html"));
    }

    #[test]
    fn file_paths_map_to_themselves() {
        assert_eq!(resolve("/app.js").ok().as_deref(), Some("/app.js"));
    }

    #[test]
    fn traversal_is_refused() {
        for path in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/./x",
            "/a\\..\\b",
            "relative",
        ] {
            assert!(
                matches!(resolve(path), Err(Error::BadRequest(_))),
                "{path} was accepted"
            );
        }
    }

    #[test]
    fn encoded_dots_stay_a_plain_file_name() {
        assert_eq!(resolve("/%2e%2e/x").ok().as_deref(), Some("/%2e%2e/x"));
    }

    #[test]
    fn content_types_follow_the_extension() {
        let cases = [
            ("/index.html", "text/html; charset=utf-8"),
            ("/style.CSS", "text/css; charset=utf-8"),
            ("/app.js", "text/javascript; charset=utf-8"),
            ("/logo.svg", "image/svg+xml"),
            ("/logo.png", "image/png"),
            ("/data.json", "application/json"),
            ("/favicon.ico", "image/x-icon"),
            ("/notes.txt.bak", "application/octet-stream"),
            ("/v1.2/README", "application/octet-stream"),
        ];
        for (path, expected) in cases {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }

    #[test]
    fn only_html_is_html() {
        assert!(is_html("/index.html"));
        assert!(!is_html("/app.js"));
    }
}
