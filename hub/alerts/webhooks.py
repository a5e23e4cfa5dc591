"""Webhooks: the target check against server-side request forgery, signing, and the POST.

A target host is resolved and every address it resolves to, and every IPv4 address embedded in
an IPv6 one (mapped, compatible, SIIT, NAT64, 6to4, Teredo), must be public (not private,
loopback, link-local, multicast or reserved) unless the operator's allow-list
(HUB_WEBHOOK_ALLOW: host names, addresses or CIDRs) names it. The check runs when a
subscription is made and again before each attempt, and the request then goes to the very
address that was checked, so a name that re-resolves elsewhere (DNS rebinding) gains nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

USER_AGENT = "HealthCERT-Hub-Webhook/1"


class TargetRefused(Exception):
    """The URL may not be called; the message says why (shown to the subscriber)."""


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, text: str | None) -> "AllowList":
        hosts, networks = set(), []
        for entry in (text or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_address(self, address) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 6145 IPv4-translated ::ffff:0:a.b.c.d
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use prefix


def _rfc6052_candidates(value: int) -> list[int]:
    """The IPv4 address at each RFC 6052 position a /48, /56, /64 or /96 prefix puts it."""
    octets = value.to_bytes(16, "big")
    # Octet 8 (bits 64-71) is always zero ("u"); the address skips it.
    return [
        int.from_bytes(octets[6:8] + octets[9:11], "big"),  # /48
        int.from_bytes(octets[7:8] + octets[9:12], "big"),  # /56
        int.from_bytes(octets[9:13], "big"),  # /64
        value & 0xFFFFFFFF,  # /96
    ]


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries by a standard transition mechanism.

    Traffic to such an address may be delivered to the embedded IPv4 address (by the kernel,
    a translator or a relay), so each one must pass the same check as the outer address.
    """
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address in _IPV4_COMPATIBLE or address in _SIIT or address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address in _NAT64_LOCAL:
        found.extend(ipaddress.IPv4Address(v) for v in _rfc6052_candidates(int(address)))
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found.extend(address.teredo)  # (server, client); the client is de-obfuscated already
    return found


def _is_public_one(address) -> bool:
    return address.is_global and not address.is_multicast


def non_public_addresses(address) -> list:
    """The outer address and each embedded IPv4 address that is not public (empty: callable)."""
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address):
        candidates += embedded_ipv4(address)
    bad = [c for c in candidates if not _is_public_one(c)]
    if address in _NAT64_LOCAL and address not in bad:
        bad.insert(0, address)  # local-use translation: never reachable from the Internet
    return bad


def _is_public(address) -> bool:
    return not non_public_addresses(address)


def check_target(url: str, allow: AllowList) -> Target:
    """Parse and resolve a webhook URL; TargetRefused unless every address may be called."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError:
        raise TargetRefused("the webhook URL is malformed (check the brackets around an IPv6 address)") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise TargetRefused("the webhook target must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise TargetRefused("the webhook URL must not carry credentials; the signature authenticates the hub")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("the webhook URL has an invalid port") from None
    host = hostname.lower().rstrip(".")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"the webhook host {host} does not resolve ({exc})") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if str(address) not in addresses:
            addresses.append(str(address))
        if host in allow.hosts or allow.allows_address(address) or _is_public(address):
            continue
        bad = non_public_addresses(address)
        embedded = f" (which embeds {bad[-1]})" if bad[-1] != address else ""
        raise TargetRefused(
            f"the webhook host {host} resolves to {address}{embedded}, a private, loopback, "
            "link-local or reserved address; an operator may allow it with HUB_WEBHOOK_ALLOW"
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, tuple(addresses))


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Hub-Signature value: HMAC-SHA256 of "<timestamp>.<raw body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, body: bytes, *, delivery_id: str, event: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Hub-Timestamp": timestamp,
        "X-Hub-Signature": signature(secret, timestamp, body),
        "X-Hub-Event": event,
        "X-Hub-Delivery": delivery_id,
    }


class WebhookSender:
    """POSTs to checked addresses, reusing one connection pool per address within a batch."""

    def __init__(self, timeout: float, connections: int = 16):
        self.timeout = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)
        self.connections = connections  # per address: as many as threads that may post at once
        self._pools: dict[tuple, urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, target: Target, address: str) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.host, target.port, address)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = self._new_pool(target, address)
            return pool

    def _new_pool(self, target: Target, address: str) -> urllib3.HTTPConnectionPool:
        if target.scheme == "https":
            # Connect to the checked address, but verify the certificate for the host name.
            return urllib3.HTTPSConnectionPool(
                address, target.port, timeout=self.timeout, maxsize=self.connections, retries=False,
                server_hostname=target.host, assert_hostname=target.host, cert_reqs="CERT_REQUIRED",
            )
        return urllib3.HTTPConnectionPool(
            address, target.port, timeout=self.timeout, maxsize=self.connections, retries=False
        )

    def post(self, target: Target, body: bytes, headers: dict[str, str]) -> None:
        """One attempt; raises with a readable message unless the receiver answered 2xx."""
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host and target.port != default_port:
            host_header = f"[{target.host}]:{target.port}"
        last_error: Exception | None = None
        for address in target.addresses:
            try:
                response = self._pool(target, address).urlopen(
                    "POST", target.path, body=body, headers={**headers, "Host": host_header},
                    redirect=False, retries=False, preload_content=True,
                )
            except urllib3.exceptions.HTTPError as exc:
                last_error = exc
                continue
            if 200 <= response.status < 300:
                return
            raise DeliveryFailed(f"the receiver answered HTTP {response.status}")
        raise DeliveryFailed(f"could not reach {target.host}:{target.port}: {_reason(last_error)}")

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class DeliveryFailed(Exception):
    """This attempt failed; a later one may succeed."""


def _reason(exc: Exception | None) -> str:
    if exc is None:
        return "no address"
    reason = getattr(exc, "reason", None)
    return str(reason or exc)
