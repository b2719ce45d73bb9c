"""URL inputs: validated, size-capped, bounded by a total deadline, and refused on non-public addresses.

A per-read timeout does not bound a download: a server that sends one byte every few seconds keeps a reader busy
forever. The download therefore runs in a daemon thread that the caller waits for at most ``deadline`` seconds; a
late download is abandoned (its thread stops at its next read, which is bounded by the same deadline) and the caller
gets a named ``ResourceError`` on time.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .errors import HuggingGPTError, ResourceAccessDenied, ResourceError

log = logging.getLogger(__name__)

_PRIVATE_HINT = ("Only public http(s) URLs are fetched; set allow_private_urls: true to allow local servers.")


@dataclass
class Fetcher:
    """Downloads one URL into memory under the configured limits."""

    max_bytes: int
    deadline: float = 60.0
    timeout: float = 30.0
    allow_private: bool = False

    def fetch(self, url: str) -> bytes:
        """The body of ``url`` (a 2xx answer; redirects are not followed), or a named ``ResourceError``."""
        check_url(url)
        box: dict[str, Any] = {}
        cancel = threading.Event()

        def worker() -> None:
            try:
                if not self.allow_private:
                    refuse_private_host(url)  # in here: a slow DNS answer counts against the deadline too
                box["data"] = self._stream(url, cancel)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller below
                box["exc"] = exc

        thread = threading.Thread(target=worker, name="url-download", daemon=True)
        thread.start()
        thread.join(self.deadline)
        if thread.is_alive():
            cancel.set()
            log.warning("download of %s abandoned after %.1f s", url, self.deadline)
            raise ResourceError(f"Downloading {url!r} took longer than {self.deadline:g} s; it was stopped.",
                                hint="The server is too slow: try again later, give a faster URL, or raise "
                                     "download_deadline.")
        if "exc" in box:
            raise box["exc"]
        data: bytes = box["data"]
        return data

    def _stream(self, url: str, cancel: threading.Event) -> bytes:
        import httpx

        limit_mb = self.max_bytes / (1024 * 1024)
        too_large = ResourceError(f"{url!r} is larger than {limit_mb:g} MB.",
                                  hint="Raise max_download_mb or give a smaller file.")
        # No single wait may outlast the whole deadline.
        timeout = httpx.Timeout(min(self.timeout, self.deadline))
        try:
            # Redirects are not followed: a public URL could otherwise bounce the download to a private address.
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as resp:
                if not self.allow_private:
                    _refuse_private_peer(url, resp)
                resp.raise_for_status()
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise too_large
                chunks: list[bytes] = []
                total = 0
                for chunk in resp.iter_bytes():
                    if cancel.is_set():
                        return b""  # the caller has gone; stop reading
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise too_large
                    chunks.append(chunk)
        except httpx.InvalidURL as exc:
            raise ResourceError(f"{url!r} is not a valid URL: {exc}.", hint="Check the URL.") from exc
        except httpx.HTTPError as exc:
            raise ResourceError(f"Could not download {url!r}: {exc}.", hint="Check the URL and the network.") from exc
        except HuggingGPTError:
            raise
        except (ValueError, UnicodeError, OSError) as exc:
            raise ResourceError(f"Could not download {url!r}: {exc}.", hint="Check the URL.") from exc
        return b"".join(chunks)


def check_url(url: str) -> urllib.parse.SplitResult:
    """Parse an http(s) URL strictly; a malformed one (``http://[::1/x.png``, a bad port, control characters) is a
    named ``ResourceError``."""
    bad = ResourceError(f"{url[:200]!r} is not a valid http(s) URL.", hint="Check the URL.")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url) or len(url) > 8192:
        raise bad
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
        host = parts.hostname
        url.encode("utf-8")
    except (ValueError, UnicodeError):
        raise bad from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise bad
    return parts


def refuse_private_host(url: str) -> None:
    """Refuse URLs whose host resolves to loopback, private, link-local or reserved addresses (SSRF guard)."""
    host = urllib.parse.unquote(check_url(url).hostname or "")  # "[fe80::1%25lo]": the zone is percent-encoded
    literal = _ip_literal(host)
    if literal is not None:  # an address in the URL itself: no lookup needed (and none could fail)
        if not _public(literal):
            raise ResourceAccessDenied(f"URL {url!r} points at a non-public address ({literal}); refused.",
                                       hint=_PRIVATE_HINT)
        return
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError) as exc:
        raise ResourceError(f"Cannot resolve the host of {url!r}: {exc}.", hint="Check the URL.") from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not _public(ip):
            raise ResourceAccessDenied(f"URL {url!r} points at a non-public address ({ip}); refused.",
                                       hint=_PRIVATE_HINT)


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
                or ip.is_unspecified)


def _refuse_private_peer(url: str, resp: Any) -> None:
    """Check the address actually connected to: the host may resolve differently the second time (DNS rebinding)."""
    stream = resp.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        return
    try:
        ip = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except ValueError:
        return
    if not _public(ip):
        raise ResourceAccessDenied(f"URL {url!r} connected to a non-public address ({ip}); refused.",
                                   hint=_PRIVATE_HINT)

