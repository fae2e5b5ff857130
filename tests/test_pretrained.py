"""Pretrained weights as PaddleClas users get them: ``Arch.pretrained: True`` (and ``use_ssld``), a
URL, or a local path; downloaded, checked, converted and cached under ``$TORCHCLAS_HOME``.

Nothing here reaches the internet: a real HTTP server on 127.0.0.1 (with ``Range`` support, and
able to cut a transfer short) serves ``.pdparams`` files written the way ``paddle.save`` writes
them, made from random torch weights; ``TORCHCLAS_PRETRAINED_URL_BASE`` points the table at it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import tiny_config_dict
from test_paddle_weights import _randomise_bn, paddle_layout, save_like_paddle
from torchclas.config import ignored_keys
from torchclas.configure import config_from_dict
from torchclas.engine.build import pretrained_args
from torchclas.models import create_model
from torchclas.models.io.download import DownloadError
from torchclas.models.io.pretrained import URL_BASE_ENV, URLS_ENV, official_url

NAME = "MobileNetV1_x0_25"  # small (0.5 M parameters), no dropout scaling, no reordering
FILE = f"{NAME}_pretrained.pdparams"
SSLD_FILE = f"{NAME}_ssld_pretrained.pdparams"


def _source(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return _randomise_bn(create_model(NAME, class_num=1000)).state_dict()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict[str, tuple[bytes, dict[str, torch.Tensor]]]:
    """``{file name: (.pdparams bytes, the torch state they were made from)}``."""
    folder, files = tmp_path_factory.mktemp("served"), {}
    for name, seed in ((FILE, 0), (SSLD_FILE, 1)):
        state = _source(seed)
        model = create_model(NAME, class_num=1000)
        model.load_state_dict(state)
        files[name] = (save_like_paddle(paddle_layout(model), folder / name).read_bytes(), state)
    return files


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        data = srv.files.get(self.path.rsplit("/", 1)[-1])
        if data is None:
            self.send_error(404)
            return
        start, ranged = 0, self.headers.get("Range")
        if ranged and srv.ranges:
            start = int(ranged.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
            if srv.content_md5:
                self.send_header("Content-MD5", srv.content_md5)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_after:  # send part of the body, then hang up
            body, srv.cut_after = body[:srv.cut_after], None
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(served, tmp_path, monkeypatch):
    """A weights server on 127.0.0.1 with the table pointed at it, and a fresh cache."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files = {name: data for name, (data, _) in served.items()}
    srv.requests, srv.ranges, srv.cut_after, srv.content_md5 = [], True, None, None
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("TORCHCLAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(URL_BASE_ENV, srv.base)
    monkeypatch.delenv(URLS_ENV, raising=False)
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def _assert_state_equal(model: torch.nn.Module, state: dict[str, torch.Tensor], skip: str = "") -> None:
    own = model.state_dict()
    for key, value in state.items():
        if key.endswith("num_batches_tracked") or (skip and key.startswith(skip)):
            continue
        assert torch.equal(own[key], value), key


def test_pretrained_true_downloads_converts_and_loads(server, served, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    model = create_model(NAME, class_num=1000, pretrained=True)
    _assert_state_equal(model, served[FILE][1])
    home = tmp_path / "home"
    assert (home / "weights" / FILE).read_bytes() == served[FILE][0]
    assert (home / "converted" / FILE.removesuffix(".pdparams") / f"{NAME}.safetensors").is_file()
    assert not list((home / "weights").glob("*.part"))
    url = f"{server.base}/dygraph/legendary_models/{FILE}"
    assert server.requests == [(f"/dygraph/legendary_models/{FILE}", None)]
    assert f"pretrained {NAME}: PaddleClas's official weights {url}, downloaded to {home / 'weights' / FILE}" \
        in caplog.text


def test_warm_cache_needs_no_server(server, served, tmp_path):
    create_model(NAME, pretrained=True)
    server.shutdown()
    server.server_close()  # from here on, a connection to the table's URL is refused
    _assert_state_equal(create_model(NAME, pretrained=True), served[FILE][1])
    converted = tmp_path / "home" / "converted"
    for path in converted.rglob("*.safetensors"):
        path.unlink()  # only the download is cached: converted again, still offline
    _assert_state_equal(create_model(NAME, pretrained=True), served[FILE][1])
    assert len(list(converted.rglob("*.safetensors"))) == 1
    assert len(server.requests) == 1


def test_no_server_and_no_cache_names_the_url_and_the_cache(server, tmp_path, monkeypatch):
    monkeypatch.setenv(URL_BASE_ENV, "http://127.0.0.1:9")
    with pytest.raises(DownloadError, match=rf"cannot download http://127.0.0.1:9/\S+/{FILE} .*after 3 tries; "
                                            rf"nothing is cached at {tmp_path / 'home' / 'weights' / FILE}"):
        create_model(NAME, pretrained=True)


@pytest.mark.parametrize("ranges", [True, False], ids=["resumes", "restarts"])
def test_a_cut_transfer_resumes_or_restarts(server, served, ranges, caplog):
    server.ranges, server.cut_after = ranges, len(served[FILE][0]) // 3
    model = create_model(NAME, pretrained=True)
    _assert_state_equal(model, served[FILE][1])
    assert [r for _, r in server.requests] == [None, f"bytes={len(served[FILE][0]) // 3}-"]
    assert f"{len(served[FILE][0]) // 3} of {len(served[FILE][0])} bytes" in caplog.text
    assert "trying again (2 of 3), resuming" in caplog.text


def test_wrong_checksum_is_refused_with_the_path_and_redownloaded(server, served, tmp_path, monkeypatch):
    table = tmp_path / "urls.json"
    table.write_text(json.dumps({NAME: {"url": f"{server.base}/m/{FILE}", "sha256": "0" * 64}}))
    monkeypatch.setenv(URLS_ENV, str(table))
    cached = tmp_path / "home" / "weights" / FILE
    with pytest.raises(DownloadError, match=rf"{cached}: checksum mismatch: sha256 [0-9a-f]{{64}}, expected 0+;"
                                            rf".* moved to {cached}.corrupt"):
        create_model(NAME, pretrained=True)
    assert not cached.exists() and cached.with_name(FILE + ".corrupt").is_file()
    good = hashlib.sha256(served[FILE][0]).hexdigest()
    table.write_text(json.dumps({NAME: {"url": f"{server.base}/m/{FILE}", "sha256": good}}))
    _assert_state_equal(create_model(NAME, pretrained=True), served[FILE][1])
    assert len(server.requests) == 2


def test_the_servers_content_md5_is_checked(server, served, tmp_path):
    server.content_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(DownloadError, match=rf"{tmp_path / 'home' / 'weights' / FILE}: checksum mismatch: MD5"):
        create_model(NAME, pretrained=True)
    server.content_md5 = base64.b64encode(hashlib.md5(served[FILE][0]).digest()).decode()
    _assert_state_equal(create_model(NAME, pretrained=True), served[FILE][1])


def test_an_unreadable_download_is_refused_and_moved_aside(server, tmp_path):
    server.files[FILE] = b"<html>gateway error</html>"
    cached = tmp_path / "home" / "weights" / FILE
    with pytest.raises(DownloadError, match=rf"{cached}: not a valid file \(.*not a readable .pdparams"):
        create_model(NAME, pretrained=True)
    assert cached.with_name(FILE + ".corrupt").is_file() and not cached.exists()


def test_a_corrupt_cached_file_is_moved_aside(server, served, tmp_path):
    cached = tmp_path / "home" / "weights" / FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(served[FILE][0][:1000])  # truncated by hand, outside torchclas
    with pytest.raises(ValueError, match=rf"{cached}: not a readable .pdparams.*moved to {cached}.corrupt, "
                                         "the next try downloads it again"):
        create_model(NAME, pretrained=True)
    _assert_state_equal(create_model(NAME, pretrained=True), served[FILE][1])


def test_fine_tuning_with_3_classes_leaves_the_head(server, served, caplog):
    model = create_model(NAME, class_num=3, pretrained=True)
    head = model.get_classifier()
    head_key = next(n for n, m in model.named_modules() if m is head)
    _assert_state_equal(model, served[FILE][1], skip=head_key + ".")
    assert head.weight.shape == (3, 256)
    assert "2 tensor(s) of another shape not loaded" in caplog.text
    assert f"{head_key}.weight (1000, 256) in file, (3, 256) in model" in caplog.text


def test_use_ssld_loads_the_ssld_file(server, served, caplog):
    model = create_model(NAME, pretrained=True, use_ssld=True)
    _assert_state_equal(model, served[SSLD_FILE][1])
    assert server.requests[-1][0].endswith(SSLD_FILE)
    assert f"PaddleClas lists no SSLD weights for {NAME}" in caplog.text
    assert official_url("PPLCNet_x1_0", use_ssld=True)[0] == \
        f"{server.base}/dygraph/legendary_models/PPLCNet_x1_0_ssld_pretrained.pdparams"


def test_a_model_without_official_weights_says_so(server):
    with pytest.raises(ValueError, match="PaddleClas publishes no pretrained weights for 'WideResNet'"):
        create_model("WideResNet", class_num=2, pretrained=True)


def test_arch_pretrained_path_and_url_keys(server, served, tmp_path):
    local = tmp_path / FILE
    local.write_bytes(served[FILE][0])
    base = {"Arch": {"name": NAME, "class_num": 3}}
    cfg = config_from_dict({"Arch": {**base["Arch"], "pretrained": str(tmp_path / FILE.removesuffix(".pdparams"))}})
    assert ignored_keys(cfg) == []
    model = create_model(cfg.Arch.name, cfg.class_num, **pretrained_args(cfg), **cfg.Arch.builder_kwargs)
    _assert_state_equal(model, served[FILE][1], skip="classifier.")
    url = f"{server.base}/elsewhere/{SSLD_FILE}"
    for raw in ({**base, "Global": {"pretrained_model": url}}, {"Arch": {**base["Arch"], "pretrained": url}},
                {"Arch": {**base["Arch"], "pretrained": True, "use_ssld": True}}):
        cfg = config_from_dict(raw)
        model = create_model(cfg.Arch.name, cfg.class_num, **pretrained_args(cfg), **cfg.Arch.builder_kwargs)
        _assert_state_equal(model, served[SSLD_FILE][1], skip="classifier.")


@pytest.mark.slow
def test_cli_train_starts_from_the_served_weights(server, served, tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path / "output", arch=NAME, epochs=1)
    raw["Arch"]["pretrained"] = True
    raw["Optimizer"] = {"name": "Momentum", "momentum": 0.9, "lr": {"name": "Cosine", "learning_rate": 1e-12}}
    config = tmp_path / "pretrained.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torchclas", "train", "-c", str(config)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"PaddleClas's official weights {server.base}/dygraph/legendary_models/{FILE}" in done.stderr
    trained = load_file(str(tmp_path / "output" / NAME / "latest.safetensors"))
    source = served[FILE][1]
    convs = [k for k, v in source.items() if v.ndim == 4]
    assert len(convs) == 27
    for key in convs:  # a learning rate of 1e-12 leaves them where the served file put them
        assert torch.allclose(trained[key], source[key], atol=1e-6), key
    assert trained["classifier.weight"].shape == (3, 256)


def test_export_and_eval_take_a_url_as_global_pretrained_model(server, served):
    from torchclas.models.deploy import build_inference_model, checkpoint_class_num

    url = f"{server.base}/dygraph/legendary_models/{FILE}"
    cfg = config_from_dict({"Global": {"pretrained_model": url}, "Arch": {"name": NAME, "class_num": 3}})
    assert checkpoint_class_num(cfg, url) == 1000
    model = build_inference_model(cfg)
    x = torch.randn(2, 3, 32, 32)
    reference = create_model(NAME, class_num=1000).eval()
    reference.load_state_dict(served[FILE][1])
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-5)
    assert len(server.requests) == 1  # downloaded once, converted once, then read from the cache


def test_the_packaged_table_is_paddleclas_own(monkeypatch, tmp_path):
    monkeypatch.delenv(URL_BASE_ENV, raising=False)
    monkeypatch.delenv(URLS_ENV, raising=False)
    official = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/ResNet50_vd_"
    assert official_url("ResNet50_vd") == (official + "pretrained.pdparams", None)
    assert official_url("ResNet50_vd", use_ssld=True) == (official + "ssld_pretrained.pdparams", None)
    assert official_url("PPHGNetV2_B0")[0].endswith("/PPHGNetV2_B0_ssld_pretrained.pdparams")  # SSLD only
    bad = tmp_path / "urls.json"
    bad.write_text(json.dumps({"ResNet18": {"sha256": "ab"}}))
    monkeypatch.setenv(URLS_ENV, str(bad))
    with pytest.raises(ValueError, match=rf"TORCHCLAS_PRETRAINED_URLS={bad}: 'ResNet18' needs a URL"):
        official_url("ResNet18")
    paddleclas = Path("/work/paddleclas")
    if (paddleclas / "ppcls").is_dir():  # the generator, rerun on PaddleClas's source, changes nothing
        tool = Path(__file__).resolve().parents[1] / "tools" / "paddle_urls.py"
        done = subprocess.run([sys.executable, str(tool), "--paddleclas", str(paddleclas), "--check"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr
