"""Content-addressed artifacts and the resource access rules (files, allowed dirs, URLs)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image

from hugginggpt.artifacts import ArtifactStore
from hugginggpt.errors import ResourceError
from hugginggpt.resources import ResourceResolver, sniff_media
from stub_http import serve_in_thread, stop


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(tmp_path / "ws")


@pytest.fixture
def png(tmp_path) -> Path:
    p = tmp_path / "data" / "red.png"
    p.parent.mkdir()
    Image.new("RGB", (8, 8), "red").save(p)
    return p


def test_same_content_is_stored_once(store):
    a = store.put_bytes(b"hello", "text", ext=".txt")
    b = store.put_text("hello")
    assert a.path == b.path and a.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert a.path.name == f"{a.sha256}.txt" and b.text == "hello"
    assert len(list(store.root.iterdir())) == 1
    assert store.get(a.sha256).text == "hello"
    assert store.get("../../etc/passwd") is None


def test_put_file_keeps_extension_and_provenance(store, png):
    art = store.put_file(png, "image", task_id=3, model_id="m", source=str(png))
    assert art.path.suffix == ".png" and art.mime == "image/png" and art.task_id == 3
    assert art.path.read_bytes() == png.read_bytes()
    assert store.contains_path(art.path)


def test_sniffing(png, tmp_path):
    assert sniff_media(png) == "image"
    txt = tmp_path / "x.png"
    txt.write_text("not an image")
    assert sniff_media(txt) is None


def resolver(store, base: Path, files=(), **kw):
    return ResourceResolver(store, base_dir=base, allowed_dirs=[base], user_files=list(files), **kw)


def test_relative_path_in_allowed_dir(store, png):
    art = resolver(store, png.parent.parent).resolve("data/red.png", "image")
    assert art.kind == "image" and art.path.exists()


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "/etc/passwd", "data/../../../etc/hostname"])
def test_hostile_paths_are_refused(store, tmp_path, hostile):
    base = tmp_path / "data"
    base.mkdir(exist_ok=True)
    with pytest.raises(ResourceError) as e:
        resolver(store, base).resolve(hostile, "image")
    assert "not allowed" in e.value.message or "not found" in e.value.message


def test_symlink_out_of_allowed_dir_is_refused(store, tmp_path, png):
    inside = tmp_path / "inside"
    inside.mkdir()
    os.symlink(png, inside / "link.png")
    with pytest.raises(ResourceError, match="not allowed"):
        resolver(store, inside).resolve("link.png", "image")


def test_user_file_outside_allowed_dirs_is_accepted_by_name(store, tmp_path, png):
    other = tmp_path / "cwd"
    other.mkdir()
    art = resolver(store, other, files=[png]).resolve("red.png", "image")
    assert art.path.read_bytes() == png.read_bytes()


def test_missing_file(store, tmp_path):
    with pytest.raises(ResourceError, match="not found"):
        resolver(store, tmp_path).resolve("nope.jpg", "image")
    with pytest.raises(ResourceError, match="not found"):
        resolver(store, tmp_path).check_user_file(tmp_path / "nope.wav")


def test_wrong_unknown_or_empty_file(store, png, tmp_path):
    with pytest.raises(ResourceError, match="is an image file, but this task needs an audio"):
        resolver(store, png.parent).resolve("red.png", "audio")
    fake = tmp_path / "fake.jpg"
    fake.write_text("hello")
    with pytest.raises(ResourceError, match="unknown or unsupported file type") as info:
        resolver(store, tmp_path).resolve("fake.jpg", "image")
    assert (info.value.hint or "").startswith("Give an image file in a common format (")
    (tmp_path / "zero.wav").write_bytes(b"")
    with pytest.raises(ResourceError) as info:
        resolver(store, tmp_path).resolve("zero.wav", "audio")
    assert info.value.message == "'zero.wav' is empty (0 bytes)."
    assert (info.value.hint or "").startswith("Give an audio file in a common format (")


def test_urls_disabled_by_default_and_private_hosts_refused(store, tmp_path):
    with pytest.raises(ResourceError, match="URL inputs are disabled"):
        resolver(store, tmp_path).resolve("https://example.com/cat.jpg", "image")
    with pytest.raises(ResourceError, match="non-public address"):
        resolver(store, tmp_path, allow_urls=True).resolve("http://127.0.0.1:9/cat.jpg", "image")


def test_url_download_from_a_local_server(store, tmp_path, png):
    import http.server

    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(png.parent))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = serve_in_thread(server)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/red.png"
        r = resolver(store, tmp_path, allow_urls=True, allow_private_urls=True)
        art = r.resolve(url, "image")
        assert art.path.read_bytes() == png.read_bytes() and art.source == url
        small = resolver(store, tmp_path, allow_urls=True, allow_private_urls=True, max_download_mb=0.00001)
        with pytest.raises(ResourceError, match="larger than"):
            small.resolve(url, "image")
    finally:
        stop(server, thread)
