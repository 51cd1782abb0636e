//! Request-path normalisation before routing (RFC 3986 §6.2.2): percent-encoded unreserved
//! characters decoded (`%7E` → `~`, `%2e` → `.`), the hex digits of the other escapes upper-cased
//! (`%2f` → `%2F`), `.` and `..` segments resolved as §5.2.4's `remove_dot_segments` does (encoded
//! dots included), and runs of `/` merged into one when `merge_slashes` is on. A `..` that would
//! climb above the root and a malformed escape are refused. `%2F` stays encoded: it never splits
//! a segment. The query is left as it is.
//!
//! Routes then match, and the upstream receives, the normalised path: `/api/x/../admin` and
//! `/api//admin` are `/api/admin`, `/api/%2e%2e/admin` is `/admin`, each with that route's rules.
//!
//! Pure and allocation-free for a path that is already normal (one scan of its bytes).

use std::borrow::Cow;

/// Why a request path cannot be normalised; the request is answered 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// A `%` not followed by two hex digits.
    InvalidEscape,
    /// A `..` segment that would lead above the root.
    AboveRoot,
}

/// `path_and_query` (`/path?query`) normalised: borrowed when it already is normal. A target not
/// starting with `/` (`*` of `OPTIONS *`) is left as it is.
pub fn normalise(path_and_query: &str, merge_slashes: bool) -> Result<Cow<'_, str>, PathError> {
    let (path, query) = match path_and_query.find('?') {
        Some(at) => path_and_query.split_at(at),
        None => (path_and_query, ""),
    };
    if !path.starts_with('/') || is_normal(path.as_bytes(), merge_slashes) {
        return Ok(Cow::Borrowed(path_and_query));
    }
    let mut normal = String::with_capacity(path_and_query.len());
    resolve(path, merge_slashes, &mut normal)?;
    normal.push_str(query);
    Ok(Cow::Owned(normal))
}

/// Whether `path` (starting with `/`) has nothing to normalise: escapes only of reserved
/// characters, in upper case; no `.` or `..` segment; and (when merging) no empty segment but a
/// trailing one.
fn is_normal(path: &[u8], merge_slashes: bool) -> bool {
    // Each segment follows a `/`; `start` is where the current one begins.
    let mut start = 1;
    for (at, &byte) in path.iter().enumerate().skip(1) {
        match byte {
            b'%' if !is_normal_escape(path.get(at + 1..at + 3)) => return false,
            b'/' => {
                let segment = &path[start..at];
                if (merge_slashes && segment.is_empty()) || is_dots(segment) {
                    return false;
                }
                start = at + 1;
            }
            _ => {}
        }
    }
    !is_dots(&path[start.min(path.len())..])
}

/// Whether the two digits after a `%` are upper-case hex naming a character that is not
/// unreserved (so it must stay encoded).
fn is_normal_escape(digits: Option<&[u8]>) -> bool {
    let Some(&[high, low]) = digits else {
        return false;
    };
    let upper = |digit: u8| digit.is_ascii_digit() || (b'A'..=b'F').contains(&digit);
    upper(high)
        && upper(low)
        && hex_value(high)
            .zip(hex_value(low))
            .is_some_and(|(high, low)| !is_unreserved(high << 4 | low))
}

fn is_dots(segment: &[u8]) -> bool {
    segment == b"." || segment == b".."
}

/// Writes `path` (starting with `/`) normalised into `out`.
fn resolve(path: &str, merge_slashes: bool, out: &mut String) -> Result<(), PathError> {
    // `out` holds `/segment` per kept segment; a trailing `/` only once the last segment is done.
    let mut segments = path[1..].split('/').peekable();
    let mut segment = String::new();
    while let Some(raw) = segments.next() {
        let last = segments.peek().is_none();
        segment.clear();
        decode_unreserved(raw, &mut segment)?;
        match segment.as_str() {
            "." => {}
            ".." => {
                let parent = out.rfind('/').ok_or(PathError::AboveRoot)?;
                out.truncate(parent);
            }
            "" if merge_slashes && !last => {}
            _ => {
                out.push('/');
                out.push_str(&segment);
                continue;
            }
        }
        // A dot segment (or a merged empty one) at the end leaves a directory: `/a/.` is `/a/`.
        if last {
            out.push('/');
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(())
}

/// Appends `segment` with its unreserved characters decoded and its other escapes' hex digits
/// upper-cased.
fn decode_unreserved(segment: &str, out: &mut String) -> Result<(), PathError> {
    let bytes = segment.as_bytes();
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'%') {
        let escape = at + offset;
        let (Some(high), Some(low)) = (
            bytes.get(escape + 1).copied().and_then(hex_value),
            bytes.get(escape + 2).copied().and_then(hex_value),
        ) else {
            return Err(PathError::InvalidEscape);
        };
        out.push_str(&segment[copied..escape]);
        let byte = high << 4 | low;
        if is_unreserved(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(high)]));
            out.push(char::from(HEX_UPPER[usize::from(low)]));
        }
        at = escape + 3;
        copied = at;
    }
    out.push_str(&segment[copied..]);
    Ok(())
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|value| value as u8)
}

/// RFC 3986 §2.3: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(path: &str) -> Result<String, PathError> {
        normalise(path, true).map(Cow::into_owned)
    }

    #[test]
    fn normal_paths_are_borrowed_as_they_are() {
        for path in [
            "/",
            "/api/users/7",
            "/a/b/",
            "/a.b/..c/...d/.e",
            "/x?a=%2e%2e/../&b=//",
            "/a%2Fb/%20%C3%A9",
            "*",
        ] {
            assert!(
                matches!(normalise(path, true), Ok(Cow::Borrowed(p)) if p == path),
                "{path}"
            );
        }
        assert!(matches!(normalise("/a//b", false), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn dot_segments_are_resolved() {
        assert_eq!(normal("/api/x/../admin").unwrap(), "/api/admin");
        assert_eq!(normal("/api/x/../../admin").unwrap(), "/admin");
        assert_eq!(normal("/api/./x/./y").unwrap(), "/api/x/y");
        assert_eq!(normal("/a/b/..").unwrap(), "/a/");
        assert_eq!(normal("/a/b/.").unwrap(), "/a/b/");
        assert_eq!(normal("/a/..").unwrap(), "/");
        assert_eq!(normal("/.").unwrap(), "/");
        assert_eq!(normal("/a/b/../../c?x=/../y").unwrap(), "/c?x=/../y");
    }

    #[test]
    fn encoded_dots_are_dots() {
        assert_eq!(normal("/api/%2e%2e/admin").unwrap(), "/admin");
        assert_eq!(normal("/api/%2E./admin").unwrap(), "/admin");
        assert_eq!(normal("/api/.%2e/admin").unwrap(), "/admin");
        assert_eq!(normal("/api/%2e/admin").unwrap(), "/api/admin");
    }

    #[test]
    fn climbing_above_the_root_is_refused() {
        assert_eq!(normal("/.."), Err(PathError::AboveRoot));
        assert_eq!(normal("/../etc/passwd"), Err(PathError::AboveRoot));
        assert_eq!(normal("/a/../../etc"), Err(PathError::AboveRoot));
        assert_eq!(normal("/%2e%2e/etc"), Err(PathError::AboveRoot));
    }

    #[test]
    fn slashes_merge_only_when_asked() {
        assert_eq!(normal("/api//admin").unwrap(), "/api/admin");
        assert_eq!(normal("//admin").unwrap(), "/admin");
        assert_eq!(normal("/a///b//").unwrap(), "/a/b/");
        assert_eq!(normal("//").unwrap(), "/");
        let kept = |path| normalise(path, false).unwrap().into_owned();
        assert_eq!(kept("/api//admin/./x"), "/api//admin/x");
        assert_eq!(kept("/a//../b"), "/a/b");
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_others_upper_cased() {
        assert_eq!(normal("/%7Euser/%41%62c").unwrap(), "/~user/Abc");
        assert_eq!(normal("/a%2fb/c%3a%20d").unwrap(), "/a%2Fb/c%3A%20d");
        assert_eq!(
            normal("/a%2Fb/..").unwrap(),
            "/",
            "%2F does not split a segment"
        );
        assert_eq!(normal("/x/%2F../y").unwrap(), "/x/%2F../y");
        assert_eq!(normal("/%C3%A9t%c3%a9").unwrap(), "/%C3%A9t%C3%A9");
    }

    #[test]
    fn malformed_escapes_are_refused() {
        for path in ["/%zz", "/a%", "/a%2", "/a%2/b", "/%%41", "/%g0"] {
            assert_eq!(normal(path), Err(PathError::InvalidEscape), "{path}");
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        let samples = [
            "/a/./b/../c//d/%2e%2E/%7e%2f?q",
            "/%41/%2e/./x/",
            "/a/b/c/../../..",
            "/a%252e%252e/",
        ];
        for path in samples {
            let once = normal(path).unwrap();
            assert!(
                matches!(normalise(&once, true), Ok(Cow::Borrowed(_))),
                "{path} → {once}"
            );
        }
    }

    #[test]
    fn arbitrary_input_never_panics_and_stays_rooted() {
        // A cheap generator over the characters that matter.
        let alphabet = ['/', '.', '%', '2', 'e', 'E', 'f', 'F', 'a', '?', 'z', '~'];
        let mut rng = fastrand::Rng::with_seed(26);
        for _ in 0..20_000 {
            let len = rng.usize(1..24);
            let mut path = String::from("/");
            for _ in 0..len {
                path.push(alphabet[rng.usize(..alphabet.len())]);
            }
            for merge in [true, false] {
                if let Ok(normal) = normalise(&path, merge) {
                    assert!(normal.starts_with('/'), "{path} → {normal}");
                    let normal_path = normal.split('?').next().unwrap_or("");
                    assert!(
                        !normal_path.split('/').any(|s| s == ".." || s == "."),
                        "{path} → {normal}"
                    );
                    let again = normalise(&normal, merge).unwrap();
                    assert_eq!(again, normal, "idempotent for {path}");
                }
            }
        }
    }
}
