//! The HTTP client builder every client of the crate starts from, with the TLS backend the
//! crate's features chose (`rustls` with aws-lc-rs by default, `rustls-ring`, `native-tls`).

/// `reqwest::Client::builder()`, after making sure rustls has a crypto provider when the
/// `rustls-ring` feature is the only rustls choice (reqwest's `rustls-no-provider` needs one
/// installed for the process; an application that installed its own keeps it).
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Fails only when another thread installed one first: that one is used.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    }
    reqwest::Client::builder()
}
