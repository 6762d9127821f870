//! The one place that turns `delivery.dns_servers` into a resolver configuration, shared by
//! MX routing (`smtp::outbound::route`) and the inbound DKIM/SPF/DMARC check (`authres`), so
//! that both ask the same servers.

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolverConfig,
};

use crate::config::parse_dns_server;

/// The configured name servers (UDP and TCP each), or `None` when the list is empty and the
/// system configuration (`/etc/resolv.conf`) applies. Entries are validated at config load;
/// one that still does not parse is skipped.
pub fn configured(servers: &[String]) -> Option<ResolverConfig> {
    if servers.is_empty() {
        return None;
    }
    let mut rc = ResolverConfig::from_name_servers(vec![]);
    for s in servers {
        if let Ok(sa) = parse_dns_server(s) {
            let mut udp = ConnectionConfig::new(ProtocolConfig::Udp);
            udp.port = sa.port();
            let mut tcp = ConnectionConfig::new(ProtocolConfig::Tcp);
            tcp.port = sa.port();
            rc.add_name_server(NameServerConfig::new(sa.ip(), true, vec![udp, tcp]));
        }
    }
    Some(rc)
}
