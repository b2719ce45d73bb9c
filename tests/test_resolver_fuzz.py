"""The resolver against hostile names: a fixed corpus, property-based fuzzing, a symlink race and a drip server.

Every outcome is an artifact read from inside the allowed places or a named ``ResourceError``; nothing hangs (FIFOs,
devices), nothing outside the allowed directories is ever read. URLs are served only from 127.0.0.1.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hostile_media import drip, loopback_server
from hugginggpt.artifacts import Artifact, ArtifactStore
from hugginggpt.errors import ResourceAccessDenied, ResourceError
from hugginggpt.fetch import check_url
from hugginggpt.resources import ResourceResolver, path_tokens

HANG_LIMIT = 10.0  # seconds: far above any honest answer, far below a hang


class Sandbox:
    """allowed/ (the base directory) with good and hostile entries; outside/ with secrets."""

    def __init__(self, root: Path) -> None:
        self.root, self.allowed, self.outside = root, root / "allowed", root / "outside"
        (self.allowed / "sub").mkdir(parents=True)
        self.outside.mkdir()
        Image.new("RGB", (8, 8), "green").save(self.allowed / "ok.png")
        Image.new("RGB", (8, 8), "blue").save(self.allowed / "sub" / "inner.png")
        Image.new("RGB", (8, 8), "red").save(self.outside / "secret.png")
        self.secret = (self.outside / "secret.png").read_bytes()
        (self.allowed / "link_out.png").symlink_to(self.outside / "secret.png")
        (self.allowed / "link_in.png").symlink_to(self.allowed / "ok.png")
        (self.allowed / "dir_out").symlink_to(self.outside, target_is_directory=True)
        (self.allowed / "loop.png").symlink_to(self.allowed / "loop.png")
        (self.allowed / "dangling.png").symlink_to(self.allowed / "nothing.png")
        os.mkfifo(self.allowed / "fifo.png")
        (self.allowed / "dir.png").mkdir()
        try:  # a character device (like /dev/null) inside the allowed directory; needs root
            os.mknod(self.allowed / "dev.png", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        except (PermissionError, OSError):
            pass
        self.store = ArtifactStore(root / "ws")

    def resolver(self, **kw: object) -> ResourceResolver:
        return ResourceResolver(self.store, base_dir=self.allowed, allowed_dirs=[self.allowed], user_files=[],
                                **kw)  # type: ignore[arg-type]


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def outcome(resolver: ResourceResolver, value: str, media: str = "image") -> Artifact | ResourceError:
    """Resolve in a thread with a hang limit; return the artifact or the named error (anything else fails)."""
    box: dict[str, object] = {}

    def go() -> None:
        try:
            box["out"] = resolver.resolve(value, media)
        except ResourceError as exc:
            box["out"] = exc
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            box["bad"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(HANG_LIMIT)
    assert not t.is_alive(), f"resolve({value[:60]!r}) hangs"
    assert "bad" not in box, f"resolve({value[:60]!r}) raised an unnamed {box['bad']!r}"
    return box["out"]  # type: ignore[return-value]


def assert_inside(box: Sandbox, out: Artifact | ResourceError) -> None:
    if isinstance(out, Artifact):
        assert out.path.read_bytes() != box.secret, "an outside file was read"
        assert out.source is not None and Path(out.source).is_relative_to(box.allowed)


ACCEPTED = ["ok.png", "sub/inner.png", "/sub/inner.png", "link_in.png", "./ok.png", "sub/../ok.png", " ok.png ",
            "ok.png\n", "ok.png/", "ok.png/."]
DENIED = [
    "../outside/secret.png", "sub/../../outside/secret.png", "../../../../../../etc/passwd", "/etc/passwd",
    "/etc/shadow", "/etc/does-not-exist", "~/secret.png", "~root/.bashrc", "~nosuchuser/x.png", "link_out.png",
    "dir_out/secret.png", "/proc/self/environ", "/dev/zero", "/dev/stdin", "/proc/self/fd/0", "../outside/nothing.png",
]
NOT_A_FILE = ["fifo.png", "dir.png", "dev.png", "loop.png", "dangling.png", "missing.png", "", " ", ".", "..", "/",
              "....//....//etc/passwd", "%2e%2e/outside/secret.png", "..\\outside\\secret.png",
              "a\x00.png", "\x00", "\ud800.png", "\udcff.png", "x" * 300 + ".png", "a/" * 3000 + "x.png",
              "sub/" * 40 + "ok.png", "ünïcødé.png", "\u202egnp.ok"]
URLS_LOOPBACK = [
    "http://127.0.0.1:1/x.png", "http://127.1/x.png", "http://0x7f000001/x.png", "http://2130706433/x.png",
    "http://0/x.png", "http://0.0.0.0/x.png", "http://[::1]/x.png", "http://[::ffff:127.0.0.1]/x.png",
    "http://localhost/x.png", "http://user:pw@127.0.0.1/x.png", "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1/x.png", "http://192.168.0.1/x.png", "https://[::1]:443/x.png", "http://[fe80::1%25lo]/x.png",
]
URLS_MALFORMED = ["http://[::1/x.png", "http://:80/x.png", "http://127.0.0.1:99999/x.png", "http:///x.png",
                  "http://127.0.0.1:abc/x.png", "http://exa\x00mple.com/x.png", "http://\ud800.com/x.png",
                  "http://[::1]]/x.png", "http://" + "a" * 9000 + "/x.png"]


@pytest.mark.parametrize("value", ACCEPTED)
def test_corpus_inside_names_give_the_inside_file(box, value):
    out = outcome(box.resolver(), value)
    assert isinstance(out, Artifact), out
    assert_inside(box, out)


@pytest.mark.parametrize("value", DENIED)
def test_corpus_outside_names_are_denied(box, value):
    out = outcome(box.resolver(), value)
    assert isinstance(out, ResourceAccessDenied), (value, out)
    assert "outside the allowed directories" in out.message and "allowed_dirs" in (out.hint or "")


@pytest.mark.parametrize("value", NOT_A_FILE)
def test_corpus_odd_names_end_in_named_errors_without_hanging(box, value):
    out = outcome(box.resolver(), value)
    assert isinstance(out, ResourceError), (value, out)


@pytest.mark.parametrize("value", URLS_LOOPBACK + URLS_MALFORMED)
def test_corpus_urls_are_refused_without_private_access(box, value):
    out = outcome(box.resolver(allow_urls=True), value)
    assert isinstance(out, ResourceError), (value, out)
    if value in URLS_LOOPBACK:
        assert isinstance(out, ResourceAccessDenied) and "non-public" in out.message, out


def test_existence_outside_is_not_revealed(box):
    r = box.resolver()
    pairs = [("/etc/passwd", "/etc/no-such-file"), ("../outside/secret.png", "../outside/no-such.png")]
    for exists, missing in pairs:
        a, b = outcome(r, exists), outcome(r, missing)
        assert type(a) is type(b) is ResourceAccessDenied
        assert a.message.replace(exists, "X") == b.message.replace(missing, "X") and a.hint == b.hint


SEGMENTS = st.sampled_from(["..", ".", "", "sub", "ok.png", "inner.png", "outside", "secret.png", "link_out.png",
                            "link_in.png", "dir_out", "fifo.png", "dev.png", "dir.png", "loop.png", "etc", "passwd",
                            "~", "~root", "\x00", "\ud800", "x" * 256, "%2e%2e", "..\\.."])
COMPOSED = st.builds(lambda lead, parts: lead + "/".join(parts), st.sampled_from(["", "/", "~/", "./", "../"]),
                     st.lists(st.one_of(SEGMENTS, st.text(max_size=12)), min_size=1, max_size=6))
# Whole corpus entries, and corpus entries with generated noise around them, besides freely composed paths.
PATHS = st.one_of(COMPOSED, st.sampled_from(ACCEPTED + DENIED + NOT_A_FILE),
                  st.builds(lambda a, b, c: a + b + c, st.sampled_from(["", "./", "sub/../", "/", "x/../"]),
                            st.sampled_from(ACCEPTED + DENIED), st.sampled_from(["", "/", "/.", "/..", "\n"])))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=PATHS)
def test_fuzzed_paths_never_escape_or_crash(box, value):
    out = outcome(box.resolver(), value)
    assert_inside(box, out)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | st.builds(" ".join, st.lists(PATHS, max_size=4)))
def test_fuzzed_requests_and_urls_only_raise_named_errors(tmp_path_factory, text):
    root = tmp_path_factory.getbasetemp() / "fuzz-requests"
    root.mkdir(exist_ok=True)
    r = ResourceResolver(ArtifactStore(root / "ws"), base_dir=root, allowed_dirs=[root], user_files=[])
    for check in (r.check_request_paths, check_url, path_tokens):
        try:
            check(text)
        except ResourceError:
            pass
    for token in path_tokens(text):
        assert token and "://" not in token


def test_symlink_race_never_reads_outside(box):
    """A writer inside the allowed directory swaps a directory for a symlink to outside/ as fast as it can, for a
    bounded time, while the resolver reads d/x.png: zero reads of the outside file (4,466 in 20 s before)."""
    d = box.allowed / "d"
    d.mkdir()
    Image.new("RGB", (8, 8), "green").save(d / "secret.png")  # same name as the outside secret
    r = box.resolver()
    stop = time.monotonic() + 3.0
    counts = {"inside": 0, "outside": 0, "refused": 0}

    def writer() -> None:
        real = box.allowed / "d_real"
        while time.monotonic() < stop:
            os.rename(d, real)
            os.symlink(box.outside, d)
            os.unlink(d)
            os.rename(real, d)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    while time.monotonic() < stop:
        try:
            art = r.resolve("d/secret.png", "image")
        except ResourceError:
            counts["refused"] += 1
            continue
        counts["outside" if art.path.read_bytes() == box.secret else "inside"] += 1
    t.join(10)
    assert counts["outside"] == 0, counts
    assert counts["inside"] + counts["refused"] > 0, counts


def test_a_drip_server_is_cut_off_at_the_deadline(box):
    """One byte every 0.3 s never trips a per-read timeout; the total deadline (1 s) stops it."""
    with loopback_server(drip(interval=0.3)) as url:
        r = box.resolver(allow_urls=True, allow_private_urls=True, download_deadline=1.0)
        t0 = time.monotonic()
        out = outcome(r, f"{url}/slow.png")
        elapsed = time.monotonic() - t0
    assert isinstance(out, ResourceError) and "took longer than 1 s" in out.message, out
    assert "download_deadline" in (out.hint or "")
    assert elapsed < HANG_LIMIT
    assert list(box.store.root.iterdir()) == []


def test_a_host_that_resolves_differently_on_connect_is_refused(box, monkeypatch):
    """DNS rebinding: the name-based check passes (simulated), but the address actually connected to is loopback."""
    import hugginggpt.fetch as fetch
    from hostile_media import serve_bytes

    monkeypatch.setattr(fetch, "refuse_private_host", lambda url: None)
    with loopback_server(serve_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)) as url:
        out = outcome(box.resolver(allow_urls=True), f"{url}/x.png")
    assert isinstance(out, ResourceAccessDenied) and "connected to a non-public address" in out.message, out


@pytest.mark.parametrize("name", ["fifo.png", "dir.png", "dev.png", "loop.png", "dangling.png", "missing.png",
                                  "a\x00.png", "\ud800.png", "x" * 300 + ".png", "/dev/zero", "/dev/stdin"])
def test_odd_attached_files_end_in_named_errors_without_hanging(box, name):
    """``--file`` / ``files=[...]``: the same checks as paths in the request (attached files may be outside)."""
    path = name if name.startswith("/") else str(box.allowed / name)
    result: dict[str, object] = {}

    def go() -> None:
        try:
            ResourceResolver(box.store, base_dir=box.allowed, allowed_dirs=[box.allowed],
                             user_files=[Path(path)]).check_user_file(Path(path))
            result["out"] = "accepted"
        except ResourceError as exc:
            result["out"] = exc
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["out"] = f"unnamed {exc!r}"

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(HANG_LIMIT)
    assert not t.is_alive(), f"check_user_file({name[:40]!r}) hangs"
    assert isinstance(result["out"], ResourceError), result
