//! URLs as logs and errors show them: RPC URLs often carry a provider's API key in the path, the
//! query or the user info (`https://mainnet.example/v3/KEY`, `wss://user:pass@node/ws`), so the
//! keeper writes only the scheme, host and port, marking what it left out.

/// `scheme://host[:port]`, with `***@` for user info and `/…` for a path, query or fragment
/// beyond `/`. A string without `://` is shown as `<not a URL>` (it could be a bare key).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (user, host) = match authority.rsplit_once('@') {
        Some((_, host)) => ("***@", host),
        None => ("", authority),
    };
    let hidden = if tail.is_empty() || tail == "/" {
        ""
    } else {
        "/…"
    };
    format!("{scheme}://{user}{host}{hidden}")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn keys_in_paths_queries_and_user_info_are_not_shown() {
        for (url, shown) in [
            ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
            ("ws://127.0.0.1:9944/", "ws://127.0.0.1:9944"),
            (
                "https://mainnet.infura.io/v3/0123abcd",
                "https://mainnet.infura.io/…",
            ),
            ("https://eth.example/?apikey=secret", "https://eth.example/…"),
            ("https://eth.example?apikey=secret", "https://eth.example/…"),
            (
                "wss://user:pass@node.example:443/ws",
                "wss://***@node.example:443/…",
            ),
            ("https://a@b@node.example", "https://***@node.example"),
            ("0123abcd", "<not a URL>"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            for secret in ["0123abcd", "secret", "pass", "user"] {
                assert!(!redact(url).contains(secret), "{url}");
            }
        }
    }
}
