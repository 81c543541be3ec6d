"""One webhook POST that cannot be turned against the console's own network (SSRF).

The URL's host is resolved once; every address it resolves to must be allowed, and the
connection goes to one of those very addresses (the Host header and TLS name carry the host
name), so a second DNS answer cannot swap in another address between the check and the
connection. Redirects are not followed; only the first EXCERPT_BYTES of the response are read.

Written by hand on urllib3 and the standard library's ipaddress: requests-hardened (the
maintained SSRF filter for requests) checks only the first address a name resolves to and
knows loopback on/off only, not "private ranges allowed, link-local and metadata never".
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never, whatever the settings (link-local, unspecified and reserved addresses too, which refusal()
# asks ipaddress about: 169.254.0.0/16 holds the cloud metadata service, 169.254.169.254):
# fd00::/8 (AWS's IPv6 metadata service, fd00:ec2::254), "this network", 192.0.0.0/24 (IETF
# protocol assignments: Oracle Cloud's metadata service is 192.0.0.192; Python calls part of it
# global) and Alibaba Cloud's metadata service, inside carrier-grade NAT.
NEVER = tuple(
    ipaddress.ip_network(n) for n in ("fd00::/8", "0.0.0.0/8", "192.0.0.0/24", "100.100.100.200/32")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: internal, not "private" to Python
NAT64 = ipaddress.ip_network("64:ff9b::/96")
EXCERPT_BYTES = 200  # of the response body, kept in the delivery log and nothing more
USER_AGENT = "moderation-console-webhooks/1"


class Refused(Exception):
    """The URL may not be called (scheme, address): permanent, never retried."""


class Unreachable(Exception):
    """No answer (name not resolved, connection refused, timeout): worth another try later."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str
    address: str


def _embedded_ipv4(ip: Address) -> Address:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address, which is the one reached."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip.sixtofour:
            return ip.sixtofour
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refusal(ip: Address, *, allow_private: bool) -> str | None:
    """Why a delivery may not go to `ip`, or None if it may."""
    ip = _embedded_ipv4(ip)
    if ip.is_link_local or ip.is_unspecified or any(ip in net for net in NEVER if net.version == ip.version):
        return "a link-local, cloud metadata, special-purpose or unspecified address, never allowed"
    # Reserved: 240.0.0.0/4 and the broadcast address; IPv6's unassigned blocks, among them ::/8
    # with the IPv4-compatible form (::a9fe:a9fe is 169.254.169.254), but not its loopback ::1.
    if ip.is_multicast or (ip.is_reserved and not ip.is_loopback):
        return "a multicast or reserved address, never allowed"
    if ip.is_loopback:
        kind = "a loopback address"
    elif ip.is_global:
        return None
    elif ip.is_private or ip in CGNAT:
        kind = "a private address"
    else:
        return "not a public address, never allowed"
    return None if allow_private else f"{kind}, refused unless WEBHOOKS_ALLOW_PRIVATE_ADDRESSES is on"


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path and query) of an http(s) URL without credentials, or Refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused(f"only http and https URLs are called, not {parts.scheme or 'no scheme'}")
    if parts.username or parts.password:
        raise Refused("a URL with a user name or password is not called; put the secret in the receiver")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("the URL's port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise Refused("the URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unreachable(f"{host} could not be resolved ({exc})") from None
    # Scope ids (fe80::1%eth0) are dropped: the address itself is what is checked.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found))


def post(
    url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, timeout: float = 10.0
) -> Answer:
    """POST `body` to `url` if every address its host resolves to is allowed; no redirect followed."""
    scheme, host, port, path = check_url(url)
    addresses = resolve(host, port)
    for ip in addresses:
        reason = refusal(ip, allow_private=allow_private)
        if reason:
            raise Refused(f"{host} resolves to {ip}: {reason}" if str(ip) != host else f"{ip} is {reason}")
    default_port = port == (443 if scheme == "https" else 80)
    bracketed = f"[{host}]" if ":" in host else host
    sent = {**headers, "Host": bracketed if default_port else f"{bracketed}:{port}", "User-Agent": USER_AGENT}
    last_error: Exception | None = None
    for ip in addresses:  # each one checked above; the next only when one does not connect
        pool: urllib3.HTTPConnectionPool
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                str(ip),
                port,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
            )
        else:
            pool = urllib3.HTTPConnectionPool(str(ip), port)
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=body,
                headers=sent,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
                timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout),
            )
            try:
                excerpt = response.read(EXCERPT_BYTES)[:EXCERPT_BYTES]
            finally:
                response.release_conn()
            return Answer(response.status, excerpt.decode("utf-8", "replace"), str(ip))
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
            last_error = exc
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(f"{host} ({ip}): {exc}") from None
        finally:
            pool.close()
    raise Unreachable(f"{host} did not accept a connection ({last_error})")
