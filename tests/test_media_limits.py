"""Heavy input: decompression bombs refused from the header wherever an image enters, and the size cap of local files.

The bomb is a real PNG (13000 x 13000 paletted, ~164 KB) made by ``hostile_media.bomb_png``. Memory is measured in
a child process, so that the measurement is not disturbed by what other tests loaded.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from hostile_media import bomb_png, loopback_server, serve_bytes, write_bomb
from hugginggpt import HuggingGPT, HuggingGPTConfig
from hugginggpt.artifacts import ArtifactStore
from hugginggpt.errors import MediaTooLarge, ResourceError
from hugginggpt.imaging import check_image_pixels
from hugginggpt.resources import ResourceResolver, _CappedReader
from llm_doubles import ScriptedLLM

TESTS = Path(__file__).resolve().parent


def _resolver(tmp_path: Path, **kw) -> ResourceResolver:
    return ResourceResolver(ArtifactStore(tmp_path / "ws"), base_dir=tmp_path, allowed_dirs=[tmp_path],
                            user_files=kw.pop("user_files", []), **kw)


def _stored(tmp_path: Path) -> list[str]:
    return [p.name for p in (tmp_path / "ws" / "artifacts").iterdir()]


def test_the_bomb_is_small_on_disk_and_refused_from_its_header(tmp_path):
    data = bomb_png()
    assert len(data) < 200_000
    with pytest.raises(MediaTooLarge) as e:
        check_image_pixels(data)
    assert e.value.code == "media_too_large" and "169,000,000 pixels" in e.value.message
    assert "max_image_pixels" in e.value.hint
    # the same from a path and from an open file (whose position is restored)
    path = write_bomb(tmp_path / "bomb.png")
    with pytest.raises(MediaTooLarge):
        check_image_pixels(path)
    with path.open("rb") as f:
        f.seek(5)
        with pytest.raises(MediaTooLarge):
            check_image_pixels(f)
        assert f.tell() == 5
    buf = io.BytesIO()
    Image.new("RGB", (30, 20)).save(buf, format="PNG")
    assert check_image_pixels(buf.getvalue()) == (30, 20)
    assert check_image_pixels(b"not an image") is None
    with pytest.raises(MediaTooLarge, match="limit is 500 pixels"):
        check_image_pixels(buf.getvalue(), max_pixels=500)


@pytest.mark.timeout(180)  # a child process: up to 120 s
def test_bomb_refused_on_every_path_with_flat_memory(tmp_path):
    """Resolver path, attached file, URL download and the experts' own loading, in a fresh process: each ends in
    MediaTooLarge and the peak memory grows by less than 100 MB (decoding it takes 0.7-1 GB)."""
    write_bomb(tmp_path / "bomb.png")
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        from pathlib import Path
        from hostile_media import bomb_png, loopback_server, serve_bytes
        from hugginggpt.artifacts import ArtifactStore
        from hugginggpt.errors import MediaTooLarge
        from hugginggpt.codec.image import load_image
        from hugginggpt.resources import ResourceResolver

        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) / 1024

        root = Path({str(tmp_path)!r})
        r = ResourceResolver(ArtifactStore(root / "ws"), base_dir=root, allowed_dirs=[root], user_files=[],
                             allow_urls=True, allow_private_urls=True)
        body = bomb_png()
        with loopback_server(serve_bytes(body)) as url:
            before = status("VmRSS:")
            outcomes = {{}}
            for name, call in [("resolve", lambda: r.resolve("bomb.png", "image")),
                               ("attached", lambda: r.check_user_file(root / "bomb.png")),
                               ("url", lambda: r.resolve(url + "/bomb.png", "image")),
                               ("expert", lambda: load_image(root / "bomb.png"))]:
                try:
                    call()
                    outcomes[name] = "accepted"
                except MediaTooLarge:
                    outcomes[name] = "media_too_large"
            peak = status("VmHWM:")
        print(json.dumps({{"outcomes": outcomes, "growth_mb": peak - before}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(report["outcomes"].values()) == {"media_too_large"}, report
    assert report["growth_mb"] < 100, report
    assert _stored(tmp_path) == []  # nothing was copied into the workspace


def test_agent_refuses_an_attached_bomb_and_one_named_in_the_request(tmp_path):
    write_bomb(tmp_path / "bomb.png")
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path / "ws", allowed_dirs=[tmp_path], planner="offline"),
                       llm=ScriptedLLM(capable=False), base_dir=tmp_path)
    attached = agent.run("What is in this picture?", files=[tmp_path / "bomb.png"])
    assert attached.error is not None and attached.error.code == "media_too_large", attached.error
    named = agent.run("Describe bomb.png")
    errors = [named.error] if named.error else [r.error for r in named.results if r.error]
    assert errors and errors[0].code == "media_too_large", named


def test_the_configured_pixel_limit_is_used(tmp_path):
    Image.new("RGB", (40, 40), "blue").save(tmp_path / "small.png")
    assert _resolver(tmp_path).resolve("small.png", "image").kind == "image"
    with pytest.raises(MediaTooLarge, match="1,000 pixels"):
        _resolver(tmp_path, max_image_pixels=1000).resolve("small.png", "image")


def test_an_uploaded_bomb_is_413(tmp_path):
    from fastapi.testclient import TestClient

    from hugginggpt.server.app import create_app

    app = create_app(HuggingGPTConfig(workspace=tmp_path / "ws", server={"ui": False}))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/files", files={"file": ("bomb.png", bomb_png(), "image/png")})
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "media_too_large"
        buf = io.BytesIO()
        Image.new("RGB", (16, 16)).save(buf, format="PNG")
        ok = client.post("/v1/files", files={"file": ("ok.png", buf.getvalue(), "image/png")})
        assert ok.status_code in (200, 201), ok.text


def test_a_huge_local_file_is_refused_before_any_copy(tmp_path):
    """1 GiB (sparse: no disk used) with a PNG signature: refused from fstat, nothing lands in the workspace."""
    big = tmp_path / "big.png"
    with big.open("wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(1 << 30)
    r = _resolver(tmp_path, user_files=[big])
    with pytest.raises(MediaTooLarge) as e:
        r.resolve("big.png", "image")
    assert "1024.0 MB" in e.value.message and "max_input_mb" in e.value.hint
    with pytest.raises(MediaTooLarge):
        r.check_user_file(big)
    assert _stored(tmp_path) == []
    agent = HuggingGPT(HuggingGPTConfig(workspace=tmp_path / "ws2", allowed_dirs=[tmp_path], max_input_mb=1),
                       llm=ScriptedLLM(capable=False), base_dir=tmp_path)
    result = agent.run("What is in this picture?", files=[big])
    assert result.error is not None and result.error.code == "media_too_large"


def test_a_file_that_grows_while_it_is_copied_is_cut_at_the_limit(tmp_path):
    error = MediaTooLarge("too big", hint="raise max_input_mb")
    reader = _CappedReader(io.BytesIO(os.urandom(3000)), 2048, error)
    store = ArtifactStore(tmp_path / "ws")
    with pytest.raises(MediaTooLarge):
        store.put_stream(reader, "image", ext=".png")
    assert list(store.root.iterdir()) == []  # the temporary file is gone too


def test_url_download_is_checked_before_it_is_stored(tmp_path):
    with loopback_server(serve_bytes(b"<html>not an image</html>", "text/html")) as url:
        r = _resolver(tmp_path, allow_urls=True, allow_private_urls=True)
        with pytest.raises(ResourceError, match="did not return an image file"):
            r.resolve(url + "/x.png", "image")
    assert _stored(tmp_path) == []
