"""Shared fixtures: a loopback HTTP server, generated images, a fake and a tiny real captioner."""

from __future__ import annotations

import atexit
import contextlib
import gzip
import hashlib
import http.server
import io
import os
import random
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

# Tests never reach the Hugging Face hub: fail fast instead of retrying for half a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Exported encoders and CPU calibrations go to a folder of this test session (inherited by the
# CLI and server subprocesses), never to the user's ~/.cache.
os.environ["ALTSCOUT_CACHE_DIR"] = tempfile.mkdtemp(prefix="altscout-test-cache-")
atexit.register(shutil.rmtree, os.environ["ALTSCOUT_CACHE_DIR"], True)
# The CLI keeps a caption cache by default; a test that counts captions must not get another test's.
os.environ["ALTSCOUT_CAPTION_CACHE"] = "off"

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.blip_random import TINY_WORDS  # noqa: E402
from captioning.base import GenerationSettings  # noqa: E402

# --------------------------------------------------------------------------- images


def make_image(width: int, height: int, fmt: str = "PNG", seed: int = 0, mode: str = "RGB", **save: Any) -> bytes:
    """A picture with shapes whose colours depend on ``seed`` (so captions can differ)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(1, width + 1), y0 + rng.randrange(1, height + 1)
        draw.ellipse((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims a huge size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- server


@dataclass
class Route:
    """What the fixture server answers for one path."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drip_s: float = 0.0  # seconds between single bytes
    content_length: int | None = None  # lie about the length
    gzip: bool = False
    etag: bool = False  # send an ETag (the body's hash) and answer a matching If-None-Match with 304
    hits: int = 0


class FixtureServer:
    """A threaded HTTP server on 127.0.0.1 with a mutable route table."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.times: list[tuple[str, float]] = []  # (path, time.monotonic()) of every request
        self.bodies: list[str] = []  # paths answered with a body (not a 304)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real servers set: headers and body are two writes, and with Nagle's algorithm
            # the body waits for the client's delayed ACK (40 ms per small response on Linux)
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append((self.path, dict(self.headers.items())))
                server.times.append((self.path, time.monotonic()))
                route = server.routes.get(path)
                if route is None:
                    route = Route(b"not found", "text/plain", 404)
                route.hits += 1
                if route.delay_s:
                    time.sleep(route.delay_s)
                body = gzip.compress(route.body) if route.gzip else route.body
                etag = f'"{hashlib.sha256(route.body).hexdigest()[:16]}"' if route.etag else None
                if etag is not None and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                server.bodies.append(path)
                try:
                    self.send_response(route.status)
                    if etag is not None:
                        self.send_header("ETag", etag)
                    self.send_header("Content-Type", route.content_type)
                    if route.gzip:
                        self.send_header("Content-Encoding", "gzip")
                    length = route.content_length if route.content_length is not None else len(body)
                    self.send_header("Content-Length", str(length))
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if route.drip_s:
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(route.drip_s)
                    else:
                        self.wfile.write(body)
                    if route.content_length is not None and route.content_length > len(body):
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]  # clients hang up
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes | str = b"", **kwargs: Any) -> str:
        """Serve ``body`` at ``path``; return the absolute URL."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(data, **kwargs)
        return self.base + path

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base + path

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def server() -> Iterator[FixtureServer]:
    """A fresh loopback server for the session (tests add routes as they need)."""
    srv = FixtureServer()
    yield srv
    srv.close()


@pytest.fixture()
def fresh_server() -> Iterator[FixtureServer]:
    """A loopback server for one test."""
    srv = FixtureServer()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium rendering tests drive; skipped without one, a failure in CI (which installs it)."""
    from scraper.browser import BrowserUnavailableError, find_browser

    try:
        return find_browser()
    except BrowserUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have a browser for the rendering tests: {exc.message}")
        pytest.skip(exc.message)


def unused_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- captioners


class FakeCaptioner:
    """Deterministic captions from image content; counts calls and batch sizes."""

    default_batch_size = 4

    def __init__(self, fail_on: Callable[[Image.Image], bool] | None = None) -> None:
        self.batches: list[int] = []
        self.loaded = 0
        self.fail_on = fail_on
        self.prepared_in: set[str] = set()  # names of the threads that ran prepare()
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            self.loaded += 1

    def prepare(self, image: Image.Image) -> Image.Image:
        self.prepared_in.add(threading.current_thread().name)
        return image

    def caption_batch(self, images: Sequence[Image.Image], settings: GenerationSettings) -> list[str]:
        self.batches.append(len(images))
        if self.fail_on is not None and any(self.fail_on(image) for image in images):
            raise RuntimeError("fake captioner failure")
        captions = []
        for image in images:
            r, g, b = image.resize((1, 1)).getpixel((0, 0))[:3]
            colour = max((r, "red"), (g, "green"), (b, "blue"))[1]
            captions.append(f"arafed a {colour} picture picture {image.width}x{image.height}")
        return captions

    def describe(self) -> dict[str, Any]:
        return {"id": "fake", "device": "cpu", "dtype": "float32", "family": "fake"}


class CaptionsByWidth:
    """A captioner whose caption is chosen by the image's width: a test decides what the model "sees"."""

    default_batch_size = 8

    def __init__(self, captions: dict[int, str]) -> None:
        self.captions = captions

    def load(self) -> None:
        """Nothing to load."""

    def prepare(self, image: Image.Image) -> Image.Image:
        return image

    def caption_batch(self, images: Sequence[Image.Image], settings: GenerationSettings) -> list[str]:
        return [self.captions[image.width] for image in images]

    def describe(self) -> dict[str, Any]:
        return {"id": "by-width", "device": "cpu", "dtype": "float32", "family": "fake"}


def _register_fake() -> None:
    """The fake registers itself like any captioner: the model id ``fake`` makes one."""
    from captioning.registry import CaptionerKind, register

    register(CaptionerKind("fake", frozenset({"fake"}), lambda spec: FakeCaptioner(), claims=lambda m: m == "fake"))


_register_fake()


@pytest.fixture()
def fake_captioner() -> FakeCaptioner:
    """A fresh fake captioner."""
    return FakeCaptioner()


@pytest.fixture(scope="session")
def tiny_blip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BLIP saved with save_pretrained, to be loaded back like a real one."""
    from bench.blip_random import save_tiny_blip

    return save_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))


MARIAN_SENTENCES = [
    "a dog sitting on a table",
    "a red car parked on the street",
    "a man and a woman standing in a field",
    "two cats sleeping on a bed",
    "un chien assis sur une table",
    "une voiture rouge garée dans la rue",
    "un homme et une femme debout dans un champ",
    "deux chats dormant sur un lit",
]


@pytest.fixture(scope="session")
def tiny_marian_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random MarianMT with a SentencePiece model trained here, saved like a real one."""
    import json
    import shutil

    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    work = tmp_path_factory.mktemp("tiny-marian-src")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(MARIAN_SENTENCES * 10),
        model_prefix=str(work / "sp"),
        vocab_size=48,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_file=str(work / "sp.model"))
    vocab = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
    (work / "vocab.json").write_text(json.dumps(vocab))
    for name in ("source.spm", "target.spm"):
        shutil.copy(work / "sp.model", work / name)
    tokenizer = MarianTokenizer(
        source_spm=str(work / "source.spm"), target_spm=str(work / "target.spm"), vocab=str(work / "vocab.json")
    )
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=256,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=1,
        init_std=0.2,
    )
    torch.manual_seed(0)
    model = MarianMTModel(config).eval()
    folder = tmp_path_factory.mktemp("tiny-marian")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_blip2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BLIP-2 (ViT, Q-Former, OPT) saved with save_pretrained."""
    import torch
    from transformers import BertTokenizer, Blip2Config, Blip2ForConditionalGeneration, Blip2Processor
    from transformers.models.blip import BlipImageProcessorPil

    folder = tmp_path_factory.mktemp("tiny-blip2")
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(TINY_WORDS)})
    processor = Blip2Processor(
        image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tokenizer, num_query_tokens=4
    )
    vocab_size = len(processor.tokenizer)
    config = Blip2Config(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "initializer_range": 0.2,
        },
        qformer_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "encoder_hidden_size": 32,
            "vocab_size": vocab_size,
        },
        text_config={
            "model_type": "opt",
            "vocab_size": vocab_size,
            "hidden_size": 32,
            "ffn_dim": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "word_embed_proj_dim": 32,
            "max_position_embeddings": 64,
            "bos_token_id": 2,
            "eos_token_id": 3,
            "pad_token_id": 0,
            "init_std": 0.2,
        },
        num_query_tokens=4,
        image_token_index=processor.tokenizer.convert_tokens_to_ids("<image>"),
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    model = Blip2ForConditionalGeneration(config).eval()
    model.generation_config.suppress_tokens = [0, 1, 2, 4, 5, config.image_token_index]
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# --------------------------------------------------------------------------- the service


@contextlib.contextmanager
def serving(service: Any) -> Iterator[str]:
    """Run the whole AltScout server (REST API + Gradio) for ``service`` on loopback; yield its base URL."""
    import uvicorn

    import app

    service.start()
    port = unused_port()
    config = uvicorn.Config(app.create_app(service), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        service.runner.stop(timeout=30)
