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

#[cfg(test)]
mod tests {
    /// With `rustls-ring` alone, reqwest panics when no crypto provider is installed: this builds
    /// a client under whatever TLS features the test runs with (CI runs it with `rustls-ring`
    /// alone, and with the default).
    #[test]
    fn the_http_client_builds_with_the_chosen_tls_backend() {
        super::client_builder()
            .build()
            .expect("an HTTP client with the chosen TLS backend");
        #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    /// Every public constructor that builds an HTTP client gets it from `client_builder`: with
    /// `rustls-ring` alone none of them panics for want of a crypto provider (CI runs this with
    /// `--no-default-features --features rustls-ring`).
    #[test]
    fn every_public_constructor_builds_with_the_chosen_tls_backend() {
        use crate::{
            Connector, InMemoryCredentialStore, McpClient, PagerDuty, Region, TokenVerifier,
        };
        McpClient::new(PagerDuty::new(Region::Eu)).expect("McpClient::new");
        McpClient::builder(PagerDuty::new(Region::Us))
            .build()
            .expect("McpClientBuilder::build");
        Connector::builder()
            .routes(PagerDuty::routes())
            .server(PagerDuty::new(Region::Us))
            .credentials(InMemoryCredentialStore::new())
            .build()
            .expect("Connector with routes");
        TokenVerifier::new().expect("TokenVerifier::new");
    }
}
