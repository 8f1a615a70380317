//! PagerDuty service regions.

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::credential::{Credential, Route};

/// The PagerDuty service region an account lives in. Each region has its own hosted MCP server and
/// REST API.
///
/// | region | MCP endpoint | REST API |
/// |---|---|---|
/// | `Region::Us` | `https://mcp.pagerduty.com/mcp` | `https://api.pagerduty.com` |
/// | `Region::Eu` | `https://mcp.eu.pagerduty.com/mcp` | `https://api.eu.pagerduty.com` |
///
/// ```
/// use pagerduty_mcp_connect::Region;
///
/// let region: Region = "EU".parse()?;
/// assert_eq!(region, Region::Eu);
/// assert_eq!(region.mcp_url().as_str(), "https://mcp.eu.pagerduty.com/mcp");
/// assert_eq!(region.to_string(), "eu");
/// assert!("de".parse::<Region>().unwrap_err().to_string().contains("us, eu"));
/// # Ok::<(), pagerduty_mcp_connect::UnknownRegion>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Region {
    /// The United States service region (the default).
    #[default]
    Us,
    /// The European Union service region.
    Eu,
}

impl Region {
    /// Every region, in the order a region search tries them (US first).
    pub const ALL: [Region; 2] = [Region::Us, Region::Eu];

    /// The region's short lower-case name: `us` or `eu`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }

    /// The URL of the region's hosted MCP server endpoint as a string.
    pub const fn mcp_url_str(self) -> &'static str {
        match self {
            Region::Us => "https://mcp.pagerduty.com/mcp",
            Region::Eu => "https://mcp.eu.pagerduty.com/mcp",
        }
    }

    /// The base URL of the region's REST API as a string (no trailing slash).
    pub const fn api_url_str(self) -> &'static str {
        match self {
            Region::Us => "https://api.pagerduty.com",
            Region::Eu => "https://api.eu.pagerduty.com",
        }
    }

    /// The URL of the region's hosted MCP server endpoint.
    pub fn mcp_url(self) -> Url {
        Url::parse(self.mcp_url_str()).expect("static region URL is valid")
    }

    /// The base URL of the region's REST API.
    pub fn api_url(self) -> Url {
        Url::parse(self.api_url_str()).expect("static region URL is valid")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Region`] from a string that names no known region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown PagerDuty region {given:?}: valid regions are us, eu")]
pub struct UnknownRegion {
    given: String,
}

impl UnknownRegion {
    /// The string that was given.
    pub fn given(&self) -> &str {
        &self.given
    }
}

impl FromStr for Region {
    type Err = UnknownRegion;

    /// Parses `us` or `eu`, ignoring case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if trimmed.eq_ignore_ascii_case("us") {
            Ok(Region::Us)
        } else if trimmed.eq_ignore_ascii_case("eu") {
            Ok(Region::Eu)
        } else {
            // Keep the echo short: this string came from configuration, not from a secret, but
            // there is no reason to print a whole accidental paste.
            let given: String = trimmed.chars().take(32).collect();
            Err(UnknownRegion { given })
        }
    }
}

impl Region {
    /// The region a credential was recorded in ([`Credential::route`](crate::Credential::route)),
    /// if its route names one.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Credential, Region};
    ///
    /// let credential = Credential::new("u+token").with_route(Region::Eu);
    /// assert_eq!(Region::of(&credential), Some(Region::Eu));
    /// ```
    pub fn of(credential: &Credential) -> Option<Region> {
        credential
            .route()
            .and_then(|route| route.as_str().parse().ok())
    }
}

/// A region is the route of its hosted MCP server in [`PagerDuty::routes`](crate::PagerDuty::routes)
/// (`us`, `eu`).
impl From<Region> for Route {
    fn from(region: Region) -> Route {
        Route::from(region.as_str())
    }
}

impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_match_the_published_endpoints() {
        assert_eq!(
            Region::Us.mcp_url().as_str(),
            "https://mcp.pagerduty.com/mcp"
        );
        assert_eq!(
            Region::Eu.mcp_url().as_str(),
            "https://mcp.eu.pagerduty.com/mcp"
        );
        assert_eq!(Region::Us.api_url_str(), "https://api.pagerduty.com");
        assert_eq!(Region::Eu.api_url_str(), "https://api.eu.pagerduty.com");
    }

    #[test]
    fn parses_case_insensitively_and_rejects_others() {
        assert_eq!("us".parse::<Region>().unwrap(), Region::Us);
        assert_eq!(" Eu ".parse::<Region>().unwrap(), Region::Eu);
        let err = "de".parse::<Region>().unwrap_err();
        assert_eq!(err.given(), "de");
        assert!(err.to_string().contains("valid regions are us, eu"));
        assert!("".parse::<Region>().is_err());
    }

    #[test]
    fn serde_uses_lower_case_names() {
        assert_eq!(serde_json::to_string(&Region::Eu).unwrap(), "\"eu\"");
        assert_eq!(
            serde_json::from_str::<Region>("\"US\"").unwrap(),
            Region::Us
        );
        assert!(serde_json::from_str::<Region>("\"mars\"").is_err());
    }
}
