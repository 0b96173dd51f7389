//! Settings that are lists, parsed and checked here so a bad value is rejected at start-up,
//! naming its variable. They stay plain data: `http` builds its own types from them.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::Uri;
use ipnet::IpNet;

/// The proxies `TRUSTED_PROXIES` names: addresses (as one-address ranges) and CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyRanges(pub Vec<IpNet>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an IP address or CIDR range")]
pub struct InvalidProxy(pub String);

impl FromStr for ProxyRanges {
    type Err = InvalidProxy;

    /// A comma- or space-separated list; empty means none.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split([',', ' '])
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxy(entry.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The audiences `ACCESS_TOKEN_AUDIENCES` names: absolute URIs without a fragment, the
/// default first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudienceUris(pub Vec<String>);

impl FromStr for AudienceUris {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let audiences: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        for audience in &audiences {
            let absolute = audience
                .parse::<Uri>()
                .is_ok_and(|uri| uri.scheme().is_some() && uri.authority().is_some());
            if !absolute || audience.contains('#') {
                return Err(format!(
                    "{audience:?} is not an absolute URI without a fragment"
                ));
            }
        }
        Ok(Self(audiences))
    }
}
