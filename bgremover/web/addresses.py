"""Which resolved addresses an image URL may reach: public unicast only, unless the operator allow-lists it."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CGNAT = ipaddress.ip_network("100.64.0.0/10")  # shared address space (RFC 6598), named explicitly
# Not globally routable, but not flagged by every Python's ipaddress (3.11 misses some of these).
SPECIAL = (
    CGNAT,
    ipaddress.ip_network("0.0.0.0/8"),  # "this network"
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are an IPv4 address
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "fd00:ec2::254",  # AWS metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
    )
)
HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4, NAT64, Teredo client), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_refused(ip: IPAddress) -> bool:
    """True for anything but public unicast: loopback, private, link-local, CGNAT, multicast, reserved, metadata…"""
    if ip in METADATA:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and is_refused(inner):
            return True
        if ip.is_site_local:
            return True
    return (
        not ip.is_global
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or any(ip in net for net in SPECIAL)
    )


@dataclass(frozen=True)
class AllowList:
    """IMAGE_URL_ALLOW_HOSTS: host names trusted by name, and IP networks trusted by resolved address."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, items: list[str]) -> AllowList:
        """Each item is an IP address, an IP network (CIDR) or a host name; anything else is a ValueError."""
        names, networks = set(), []
        for item in items:
            text = item.strip().lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if not HOST_NAME.fullmatch(text):
                raise ValueError(f"IMAGE_URL_ALLOW_HOSTS: not a host name, IP address or network: {item!r}")
            names.add(text)
        return cls(frozenset(names), tuple(networks))

    def allows(self, host: str, addresses: list[IPAddress]) -> bool:
        """True if the host is listed by name, or every address it resolved to is inside a listed network."""
        if host.lower().rstrip(".") in self.names:
            return True
        return bool(addresses) and all(any(a in net for net in self.networks) for a in addresses)
