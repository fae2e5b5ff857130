"""Where pretrained weights come from: ``pretrained: True`` (PaddleClas's official weights), a URL,
or a local file; what :func:`pretrained_path` returns is a local file ``load_pretrained`` reads.

* ``True`` looks the model up in ``paddle_urls.json``, the table PaddleClas's backbones load from
  (generated from PaddleClas's ``MODEL_URLS`` by ``tools/paddle_urls.py``); ``use_ssld`` picks the
  SSLD-distilled weights, as PaddleClas's ``use_ssld`` does.
* A URL (``http(s)://``, ``file://``) is downloaded into ``$TORCHCLAS_HOME/weights/`` (see
  :mod:`.download`); a ``.pdparams`` is converted once to
  ``$TORCHCLAS_HOME/converted/<file>/<model>.safetensors``, which later runs load directly.
* Anything else is a local path (the suffix may be left out).

Two environment variables point names elsewhere (mirrors, tests): ``TORCHCLAS_PRETRAINED_URL_BASE``
replaces the official server (``https://paddle-imagenet-models-name.bj.bcebos.com``) in every
table URL, keeping the path; ``TORCHCLAS_PRETRAINED_URLS`` names a JSON file ``{model: url}`` or
``{model: {"url": ..., "ssld": ..., "sha256": ..., "ssld_sha256": ...}}`` whose rows replace the
table's (a sha256 given there is checked on download).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.parse
from pathlib import Path
from typing import Any

from ...config.paths import is_url
from ...utils.files import atomic_write
from .download import cache_home, download, quarantine
from .paddle_weights import PaddleStateError, convert_paddle_arrays, read_pdparams
from .weights import resolve_weights_path

__all__ = ["URL_BASE_ENV", "URLS_ENV", "OFFICIAL_BASE", "is_url", "ssld_url", "url_table", "official_url", "fetch_weights",
           "pretrained_path"]

log = logging.getLogger(__name__)
URL_BASE_ENV = "TORCHCLAS_PRETRAINED_URL_BASE"
URLS_ENV = "TORCHCLAS_PRETRAINED_URLS"
OFFICIAL_BASE = "https://paddle-imagenet-models-name.bj.bcebos.com"
_TABLE = Path(__file__).with_name("paddle_urls.json")


def url_table() -> dict[str, dict[str, str]]:
    """The packaged ``{model: {"url", "ssld"?}}`` table with ``$TORCHCLAS_PRETRAINED_URLS``'s rows over it.

    Raises:
        ValueError: the override file is missing or not a JSON object of URLs (names it).
    """
    table = json.loads(_TABLE.read_text(encoding="utf-8"))
    override = os.environ.get(URLS_ENV)
    if override:
        try:
            rows = json.loads(Path(override).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{URLS_ENV}={override}: not a readable JSON file ({exc})") from None
        if not isinstance(rows, dict):
            raise ValueError(f"{URLS_ENV}={override}: expected a JSON object {{model: url}}")
        for name, row in rows.items():
            row = {"url": row} if isinstance(row, str) else row
            if not isinstance(row, dict) or not is_url(row.get("url") or row.get("ssld")):
                raise ValueError(f"{URLS_ENV}={override}: '{name}' needs a URL, got {row!r}")
            table[name] = row
    return table


def ssld_url(url: str) -> str:
    """PaddleClas's ``_set_ssld_pretrained``: the SSLD file's URL next to the plain one."""
    return url if "ssld" in url else url.replace("_pretrained", "_ssld_pretrained")


def official_url(name: str, use_ssld: bool = False) -> tuple[str, str | None]:
    """The URL of ``name``'s official PaddleClas weights (SSLD ones with ``use_ssld``), and its
    sha256 when the table gives one; ``$TORCHCLAS_PRETRAINED_URL_BASE`` replaces the server.

    Raises:
        ValueError: PaddleClas publishes no weights for ``name``.

    Example:
        >>> official_url("ResNet50_vd", use_ssld=True)[0]  # doctest: +SKIP
        'https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/ResNet50_vd_ssld_pretrained.pdparams'
    """
    row = url_table().get(name)
    if row is None:
        raise ValueError(f"Arch.pretrained: True: PaddleClas publishes no pretrained weights for '{name}'; "
                         "give Arch.pretrained (or Global.pretrained_model) a weights file or URL instead")
    if use_ssld and "ssld" in row:
        url, sha256 = row["ssld"], row.get("ssld_sha256")
    elif use_ssld:
        url, sha256 = ssld_url(row["url"]), None
        log.warning("Arch.use_ssld: PaddleClas lists no SSLD weights for %s; trying %s, as PaddleClas would", name, url)
    else:
        url, sha256 = row.get("url") or row["ssld"], row.get("sha256")
    base = os.environ.get(URL_BASE_ENV)
    if base and url.startswith(OFFICIAL_BASE):
        url = base.rstrip("/") + url[len(OFFICIAL_BASE):]
    return url, sha256


def _cache_file(url: str) -> Path:
    """``$TORCHCLAS_HOME/weights/<the URL's file name>`` (PaddleClas keys its cache by file name too)."""
    filename = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if not filename:
        raise ValueError(f"{url}: the URL names no file")
    return cache_home() / "weights" / filename


def _check_pdparams(path: Path) -> None:
    read_pdparams(path)


def fetch_weights(url: str, sha256: str | None = None) -> Path:
    """The cached download of ``url`` (downloaded first when absent); a ``.pdparams`` is checked to
    be a readable array pickle before it enters the cache.

    Raises:
        DownloadError: see :func:`~torchclas.models.io.download.download`.
    """
    dest = _cache_file(url)
    return download(url, dest, sha256=sha256, validate=_check_pdparams if dest.suffix == ".pdparams" else None)


def _converted_file(pdparams: Path, name: str, model_kwargs: dict[str, Any]) -> Path:
    """One converted file per downloaded file, model and builder arguments (they shape the conversion)."""
    tag = ""
    if model_kwargs:
        text = json.dumps(model_kwargs, sort_keys=True, default=repr)
        tag = "-" + hashlib.sha256(text.encode()).hexdigest()[:10]
    return cache_home() / "converted" / pdparams.stem / f"{name}{tag}.safetensors"


def _convert(pdparams: Path, out: Path, name: str, model_kwargs: dict[str, Any]) -> Path:
    """Convert a cached ``.pdparams`` for ``name`` into ``out``; an unreadable file is moved aside."""
    from safetensors.torch import save_file

    try:
        arrays = read_pdparams(pdparams)
    except PaddleStateError as exc:
        bad = quarantine(pdparams)
        raise PaddleStateError(f"{exc}; moved to {bad}, the next try downloads it again") from None
    state = convert_paddle_arrays(arrays, name, **model_kwargs)
    tensors = {k: v.contiguous() for k, v in state.items()}
    atomic_write(out, lambda tmp: save_file(tensors, tmp, metadata={"source": pdparams.name, "model": name}))
    log.info("converted %s for %s -> %s", pdparams, name, out)
    return out


def pretrained_path(name: str, source: bool | str | Path, use_ssld: bool = False,
                    model_kwargs: dict[str, Any] | None = None) -> Path:
    """A local weights file for model ``name`` from ``source``: ``True`` (official PaddleClas
    weights, SSLD ones with ``use_ssld``), a URL, or a local path. Logs where the weights came from.

    Args:
        name: the model's table name (picks the official URL and drives conversion).
        source: ``True``, a URL or a path (``False``/empty: no weights, an error here).
        use_ssld: with ``True``, PaddleClas's SSLD weights.
        model_kwargs: builder arguments the model was built with (a ``.pdparams`` is converted
            for the same architecture).

    Raises:
        ValueError: no official weights for ``name``; FileNotFoundError: a local path that is not there;
        DownloadError / PaddleStateError: a failed download or an unreadable file (named).

    Example:
        >>> pretrained_path("ResNet18", True)  # doctest: +SKIP
        PosixPath('/home/me/.cache/torchclas/converted/ResNet18_pretrained/ResNet18.safetensors')
    """
    if source is True:
        url, sha256 = official_url(name, use_ssld)
        origin = f"PaddleClas's official {'SSLD ' if 'ssld' in url else ''}weights {url}"
    elif is_url(source):
        url, sha256, origin = str(source), None, str(source)
    elif source:
        path = resolve_weights_path(source)
        log.info("pretrained %s: local file %s", name, path)
        return path
    else:
        raise ValueError(f"pretrained_path: no weights source for '{name}' (got {source!r})")
    cached = _cache_file(url)
    converted = _converted_file(cached, name, model_kwargs or {})
    if cached.suffix == ".pdparams" and converted.is_file():
        log.info("pretrained %s: %s, from the cache %s", name, origin, converted)
        return converted
    was_cached = cached.is_file()
    downloaded = fetch_weights(url, sha256)
    log.info("pretrained %s: %s, %s %s", name, origin, "from the cache" if was_cached else "downloaded to", downloaded)
    if downloaded.suffix != ".pdparams":
        return downloaded
    return _convert(downloaded, converted, name, model_kwargs or {})
