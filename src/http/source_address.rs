//! Where a request came from, for counting password attempts per source.
//!
//! The address is the one the edge saw: API Gateway's `sourceIp` (the Lambda adapter puts it
//! in a [`PeerAddress`] extension) or the local server's TCP peer (axum's `ConnectInfo`). A
//! forwarded header is believed only from a proxy the operator named in `TRUSTED_PROXIES`:
//! anyone can send `X-Forwarded-For`, and believing it would let a guesser pick a fresh source
//! for every guess.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use ipnet::IpNet;

pub use crate::config::InvalidProxy;
use crate::config::ProxyRanges;
use crate::domain::login_throttle::SourceAddress;

/// The address of the request's immediate peer, as a front end (the Lambda adapter) saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddress(pub IpAddr);

/// Proxies whose `X-Forwarded-For` is believed: addresses or CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl From<ProxyRanges> for TrustedProxies {
    fn from(ranges: ProxyRanges) -> Self {
        Self(ranges.0)
    }
}

impl FromStr for TrustedProxies {
    type Err = InvalidProxy;

    /// As `TRUSTED_PROXIES` is written: a comma- or space-separated list; empty means none.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<ProxyRanges>().map(Self::from)
    }
}

impl TrustedProxies {
    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer`: the peer itself unless it is a trusted proxy, in which case
    /// the nearest `X-Forwarded-For` entry that is not one (each proxy appends the address it
    /// saw, so entries further left are the client's own claims).
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> SourceAddress {
        let Some(peer) = peer else {
            return SourceAddress(None);
        };
        if !self.trusts(peer) {
            return SourceAddress(Some(peer));
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // What an unparsable hop says, and everything left of it, is not believed.
            let Some(hop) = hop_address(hop) else {
                break;
            };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        SourceAddress(Some(client))
    }
}

/// An `X-Forwarded-For` hop's address: a bare address, or one with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:443`), which some proxies write.
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
}

/// Puts the request's [`SourceAddress`] in its extensions, from a [`PeerAddress`] extension
/// or the TCP peer.
pub(super) fn attach(mut request: Request, trusted: &TrustedProxies) -> Request {
    let extensions = request.extensions();
    let peer = extensions
        .get::<PeerAddress>()
        .map(|peer| peer.0)
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip())
        });
    let source = trusted.resolve(peer, request.headers());
    request.extensions_mut().insert(source);
    request
}

/// The request's source, or an unknown one (a router called in process without the layer).
pub fn source_of(request: &Request) -> SourceAddress {
    request
        .extensions()
        .get::<SourceAddress>()
        .copied()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert("x-forwarded-for", value);
        }
        headers
    }

    #[test]
    fn forwarded_headers_are_ignored_unless_the_peer_is_trusted() {
        let none = TrustedProxies::default();
        let headers = forwarded("198.51.100.1");
        assert_eq!(
            none.resolve(Some(ip("203.0.113.9")), &headers),
            SourceAddress(Some(ip("203.0.113.9")))
        );
        assert_eq!(none.resolve(None, &headers), SourceAddress(None));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.0.2.1".parse().unwrap_or_default();
        let peer = Some(ip("10.1.2.3"));
        // The client claims 1.1.1.1; 198.51.100.7 is what the trusted proxy 192.0.2.1 saw.
        let headers = forwarded("1.1.1.1, 198.51.100.7, 192.0.2.1");
        assert_eq!(
            trusted.resolve(peer, &headers),
            SourceAddress(Some(ip("198.51.100.7")))
        );
        assert_eq!(
            trusted.resolve(peer, &HeaderMap::new()),
            SourceAddress(Some(ip("10.1.2.3"))),
            "no header: the proxy itself"
        );
        assert_eq!(
            trusted.resolve(peer, &forwarded("198.51.100.9:4711, 192.0.2.1")),
            SourceAddress(Some(ip("198.51.100.9"))),
            "a hop with a port"
        );
        assert_eq!(
            trusted.resolve(peer, &forwarded("198.51.100.7, garbage")),
            SourceAddress(Some(ip("10.1.2.3"))),
            "an unparsable hop ends what is believed"
        );
    }

    #[test]
    fn proxy_lists_parse_addresses_and_ranges() {
        assert_eq!("".parse(), Ok(TrustedProxies::default()));
        assert!(
            "10.0.0.0/8,::1 2001:db8::/32"
                .parse::<TrustedProxies>()
                .is_ok()
        );
        assert_eq!(
            "10.0.0.0/8,example.com".parse::<TrustedProxies>(),
            Err(InvalidProxy("example.com".into()))
        );
    }
}
