"""CLIP as an image encoder, from weights already on disk (nothing is ever downloaded).

:func:`load_clip_encoder` reads a folder holding a CLIP model in either layout:

- Hugging Face transformers (``config.json`` with ``"model_type": "clip"``, weights,
  tokenizer files, ``preprocessor_config.json``), e.g. ``openai/clip-vit-base-patch32``;
- sentence-transformers (``modules.json`` naming a ``CLIPModel`` module), e.g.
  ``sentence-transformers/clip-ViT-B-32``; the CLIP module's folder is read as above.

Images and words land in CLIP's own joint space, so :class:`ClipEncoder` embeds queries with
CLIP's text tower (``encode_queries``), not with the catalog's text encoder. open_clip is not
used: its package pulls another torch build and torchvision into this environment.

:func:`write_tiny_clip` saves a tiny CLIP with *untrained* weights built from a config; tests
use it to run the whole code path offline. Its vectors mean nothing.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from marquee.errors import ConfigError

log = logging.getLogger(__name__)

SETTING = "MARQUEE_CLIP_MODEL"


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def find_clip_folder(path: str | Path) -> Path:
    """The folder holding the CLIP ``config.json`` inside a transformers or
    sentence-transformers model folder; :class:`ConfigError` naming the setting otherwise."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{SETTING}: no model folder at {folder}")
    modules = folder / "modules.json"
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{SETTING}: {modules} is not valid JSON") from exc
        clip = next((m for m in entries if "CLIPModel" in str(m.get("type", ""))), None)
        if clip is None:
            raise ConfigError(f"{SETTING}: the sentence-transformers model in {folder} has no CLIP module")
        folder = folder / str(clip.get("path", ""))
    config = folder / "config.json"
    if not config.is_file():
        raise ConfigError(f"{SETTING}: {folder} has no config.json: not a CLIP model folder")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except ValueError as exc:
        raise ConfigError(f"{SETTING}: {config} is not valid JSON") from exc
    if model_type != "clip":
        raise ConfigError(f"{SETTING}: {folder} holds a {model_type!r} model, expected 'clip'")
    return folder


def _image_processor(folder: Path):
    try:  # transformers >= 5 without torchvision: the PIL processor, named explicitly
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor as Processor
    return Processor.from_pretrained(str(folder), local_files_only=True)


def _features(output):
    """transformers 4 returns a tensor, transformers 5 an output whose pooler_output holds it."""
    return output if hasattr(output, "shape") else output.pooler_output


class ClipEncoder:
    """A CLIP model on the CPU: images and words into CLIP's joint space (unit rows)."""

    def __init__(self, model, tokenizer, processor, *, name: str, batch_size: int = 32):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.processor = processor
        self.name = name
        self.dim = int(model.config.projection_dim)
        self.batch_size = batch_size
        self.max_length = int(model.config.text_config.max_position_embeddings)

    @staticmethod
    def _unit(matrix) -> np.ndarray:
        from retrieval.modalities import unit_rows

        return unit_rows(matrix.detach().float().numpy())

    def encode_images(self, images: Sequence) -> np.ndarray:
        import torch

        out = np.zeros((len(images), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = [im.convert("RGB") for im in images[start : start + self.batch_size]]
                pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
                out[start : start + len(batch)] = self._unit(
                    _features(self.model.get_image_features(pixel_values=pixels))
                )
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                tokens = self.tokenizer(batch, padding=True, truncation=True,
                                        max_length=self.max_length, return_tensors="pt")
                out[start : start + len(batch)] = self._unit(
                    _features(self.model.get_text_features(
                        input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]))
                )
        return out


def load_clip_encoder(path: str | Path, *, batch_size: int = 32) -> ClipEncoder:
    """Load CLIP from a local folder (see the module doc); never downloads.

    Raises :class:`ConfigError` naming ``MARQUEE_CLIP_MODEL`` when the folder is missing,
    is not a CLIP model, or lacks weights, tokenizer or preprocessor files.
    """
    folder = find_clip_folder(path)
    _offline()
    from transformers import AutoTokenizer, CLIPModel

    try:
        model = CLIPModel.from_pretrained(str(folder), local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        processor = _image_processor(folder)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{SETTING}: cannot load CLIP from {folder}: {exc}") from exc
    log.info("loaded CLIP from %s", folder)
    return ClipEncoder(model, tokenizer, processor, name=f"clip:{folder.resolve()}",
                       batch_size=batch_size)


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins for bytes used by byte-level BPE vocabularies (GPT-2/CLIP)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def write_tiny_clip(folder: str | Path, *, image_size: int = 32, dim: int = 16) -> Path:
    """Save a tiny CLIP with untrained weights (character-level tokenizer) into ``folder``.

    For tests of the loading and encoding path only: it is random, its vectors mean nothing.
    """
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    vocab = {s: n for n, s in enumerate(symbols + [s + "</w>" for s in symbols])}
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    size = len(vocab)
    config = CLIPConfig(
        text_config=dict(vocab_size=size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                         bos_token_id=size - 2, eos_token_id=size - 1, pad_token_id=size - 1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=image_size, patch_size=8),
        projection_dim=dim,
    )
    CLIPModel(config).save_pretrained(str(folder))
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(str(folder))
    CLIPImageProcessor(size={"shortest_edge": image_size},
                       crop_size={"height": image_size, "width": image_size}).save_pretrained(str(folder))
    return folder
