"""A ClipCap-style prefix captioner trained from scratch on frozen audio embeddings (or, with
``language_model``, on GPT-2's pretrained blocks: :mod:`.gpt2`).

An audio embedding (D,) -- standardised with the training clips' mean and standard deviation -- is
mapped by a small MLP to ``prefix_length`` vectors of width ``d_model``; a causal Transformer (a
decoder-only stack, pre-norm) reads ``[prefix, <bos>, w_1, ..., w_n]`` and predicts ``w_1 .. w_n,
<eos>`` over a word vocabulary built from the training captions (:mod:`.vocab`).  Every (clip,
reference) pair is one training example; the epoch with the lowest validation loss is kept.
Decoding: greedy (``beam_size = 1``) or beam search, batched over clips, never emitting ``<unk>``,
at least one word, ranked by the mean log-probability per token.

Saved as a folder like the project's checkpoints: ``config.json`` (architecture, vocabulary, where the
input embeddings come from, the SHA-256 of the weights) and ``captioner.safetensors``; the hash is
checked on every load.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._io import atomic_path, atomic_write_json, sha256_file
from .gpt2 import GPT2PrefixDecoder, gpt2_from_config
from .vocab import BOS, EOS, PAD, UNK, Vocabulary

__all__ = ["DecoderConfig", "PrefixDecoder", "Captioner", "train_captioner", "load_captioner"]

WEIGHTS = "captioner.safetensors"
FORMAT = "w2clib-prefix-captioner-1"


@dataclass
class DecoderConfig:
    """Size and training of the prefix captioner (the ``captioning.decoder`` mapping of a profile)."""

    prefix_length: int = 4  # prefix vectors the audio embedding is mapped to
    d_model: int = 128  # width of the Transformer
    n_layers: int = 2  # decoder blocks
    n_heads: int = 4  # attention heads
    dim_feedforward: int = 256  # hidden size of each block's MLP
    dropout: float = 0.1  # dropout in the blocks and on the prefix
    max_words: int = 20  # longest caption trained on / generated (words, <eos> excluded)
    min_count: int = 1  # a training word enters the vocabulary when seen this often
    epochs: int = 15  # passes over the training clips
    references_per_epoch: int = 0  # references of each clip trained on per epoch, drawn anew each epoch
    #                                (0 = all of them: an epoch is every (clip, reference) pair)
    batch_size: int = 64  # pairs per step
    lr: float = 2e-3  # AdamW learning rate (linear warm-up over the first epoch, cosine decay)
    weight_decay: float = 0.01  # AdamW weight decay
    beam_size: int = 3  # 1 = greedy decoding

    def __post_init__(self) -> None:
        for name in ("prefix_length", "d_model", "n_layers", "n_heads", "dim_feedforward", "max_words",
                     "min_count", "epochs", "batch_size", "beam_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"captioning.decoder.{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"captioning.decoder.d_model ({self.d_model}) must be a multiple of n_heads "
                             f"({self.n_heads})")
        if int(self.references_per_epoch) < 0:
            raise ValueError(f"captioning.decoder.references_per_epoch must be >= 0, got {self.references_per_epoch}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"captioning.decoder.dropout must be in [0, 1), got {self.dropout}")


class PrefixDecoder(nn.Module):
    """Prefix MLP + causal Transformer + word head.  ``forward(x (B, D), tokens (B, T)) -> (B, T, V)``."""

    def __init__(self, input_dim: int, vocab_size: int, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg, d, p = cfg, cfg.d_model, cfg.prefix_length
        self.register_buffer("mean", torch.zeros(input_dim))  # input standardisation (training clips)
        self.register_buffer("std", torch.ones(input_dim))
        self.prefix = nn.Sequential(nn.Linear(input_dim, d * p // 2), nn.GELU(), nn.Dropout(cfg.dropout),
                                    nn.Linear(d * p // 2, d * p))
        self.tokens = nn.Embedding(vocab_size, d, padding_idx=PAD)
        self.positions = nn.Embedding(p + cfg.max_words + 2, d)
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, cfg.dim_feedforward, cfg.dropout, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.blocks = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab_size)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, p, t = x.shape[0], self.cfg.prefix_length, tokens.shape[1]
        prefix = self.prefix((x - self.mean) / self.std).view(b, p, -1)
        seq = torch.cat([prefix, self.tokens(tokens)], dim=1)
        seq = seq + self.positions(torch.arange(p + t, device=x.device))[None]
        mask = nn.Transformer.generate_square_subsequent_mask(p + t, device=x.device)
        h = self.blocks(seq, mask=mask, is_causal=True)
        return self.head(self.norm(h[:, p:]))


@dataclass
class Captioner:
    """A trained captioner: the network, its vocabulary, and where its input embeddings come from."""

    model: PrefixDecoder | GPT2PrefixDecoder
    vocab: Vocabulary
    config: DecoderConfig
    embedder: dict[str, Any] = field(default_factory=dict)  # {"name", "fingerprint", "checkpoint", ...}
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: train/valid loss
    sha256: str = ""

    @property
    def input_dim(self) -> int:
        return int(self.model.mean.shape[0])

    @property
    def device(self) -> torch.device:
        """Where the network is (and decodes)."""
        return self.model.mean.device

    def to(self, device: str | torch.device) -> Captioner:
        """Move the network to ``device`` (``"cpu"``, ``"cuda"``, ...); returns ``self``."""
        self.model.to(device)
        return self

    @torch.no_grad()
    def generate(self, x: np.ndarray, beam_size: int | None = None, batch_size: int = 256) -> list[str]:
        """One caption per row of ``x`` (n, D) float32 (embeddings from :attr:`embedder`).

        ``beam_size``: 1 = greedy; default the config's.  Deterministic (the network is in eval mode).
        """
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"x must be (n, {self.input_dim}) embeddings from {self.embedder.get('name', '?')!r}, "
                             f"got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or inf")
        k = int(beam_size or self.config.beam_size)
        if k < 1:
            raise ValueError(f"beam_size must be >= 1, got {k}")
        self.model.eval()
        device = self.device
        out: list[str] = []
        for start in range(0, len(x), batch_size):
            ids = _beam_search(self.model, torch.from_numpy(x[start:start + batch_size]).to(device), k,
                               self.config.max_words)
            out.extend(self.vocab.decode(row) for row in ids)
        return out

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``captioner.safetensors`` and ``config.json`` into ``directory`` (atomically)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        with atomic_path(directory / WEIGHTS) as tmp:
            save_file(state, str(tmp))
            digest = sha256_file(tmp)
        self.sha256 = digest
        lm = {"decoder_kind": "gpt2", "language_model": self.model.architecture()} \
            if isinstance(self.model, GPT2PrefixDecoder) else {"decoder_kind": "prefix"}
        atomic_write_json(directory / "config.json", {
            "format": FORMAT, "input_dim": self.input_dim, "decoder": asdict(self.config), **lm,
            "vocabulary": list(self.vocab.words), "embedder": self.embedder, "history": self.history,
            "sha256": digest,
        })
        return directory


def load_captioner(directory: str | os.PathLike[str]) -> Captioner:
    """A :class:`Captioner` saved by :meth:`Captioner.save`; the weights' SHA-256 is verified.

    Raises:
        FileNotFoundError: no ``config.json`` / weights in ``directory``.
        ValueError: not a captioner folder, or the weights do not match their recorded hash.
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    config_path, weights = directory / "config.json", directory / WEIGHTS
    if not config_path.is_file() or not weights.is_file():
        raise FileNotFoundError(f"{directory} is not a captioner folder (needs config.json and {WEIGHTS}); "
                                "train one with notebook 09 or w2clib.evaluate.captioning.train_captioner")
    meta = json.loads(config_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{config_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    digest = sha256_file(weights)
    if digest != meta.get("sha256"):
        raise ValueError(f"{weights} does not match the SHA-256 in config.json (corrupt or replaced); "
                         "retrain or copy the folder again")
    cfg = DecoderConfig(**meta["decoder"])
    vocab = Vocabulary(tuple(meta["vocabulary"]))
    if meta.get("decoder_kind", "prefix") == "gpt2":
        model: PrefixDecoder | GPT2PrefixDecoder = GPT2PrefixDecoder(
            int(meta["input_dim"]), len(vocab), cfg, gpt2_from_config(meta["language_model"]))
    else:
        model = PrefixDecoder(int(meta["input_dim"]), len(vocab), cfg)
    model.load_state_dict(load_file(str(weights)))
    model.eval()
    return Captioner(model, vocab, cfg, dict(meta.get("embedder") or {}), list(meta.get("history") or []), digest)


def _batch(vocab: Vocabulary, captions: Sequence[str], max_words: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forcing inputs ``[<bos>, w...]`` and targets ``[w..., <eos>]``, PAD-filled: (B, T) int64."""
    encoded = [vocab.encode(c, max_words) for c in captions]
    t = max(len(e) for e in encoded) - 1
    inputs = torch.full((len(encoded), t), PAD, dtype=torch.long)
    targets = torch.full((len(encoded), t), PAD, dtype=torch.long)
    for i, e in enumerate(encoded):
        inputs[i, : len(e) - 1] = torch.tensor(e[:-1])
        targets[i, : len(e) - 1] = torch.tensor(e[1:])
    return inputs, targets


def _loss(model: nn.Module, x: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = model(x, inputs)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                       ignore_index=PAD)


def train_captioner(
    x: np.ndarray,
    captions: Sequence[Sequence[str]],
    cfg: DecoderConfig,
    *,
    seed: int = 0,
    valid: tuple[np.ndarray, Sequence[Sequence[str]]] | None = None,
    embedder: dict[str, Any] | None = None,
    progress: bool = False,
    language_model: tuple[Any, Any] | None = None,
    device: str | torch.device = "cpu",
) -> Captioner:
    """Train a :class:`Captioner` on clip embeddings and their reference captions.

    Args:
        x: (n_clips, D) float32 training embeddings.
        captions: per clip, its reference captions; empty captions are dropped, a clip left with none
            is not trained on.
        cfg: :class:`DecoderConfig`.
        seed: seeds the initial weights, dropout and the order of examples.
        valid: (embeddings, captions) of validation clips: the epoch with the lowest validation loss is
            kept (else the last).
        embedder: recorded in the saved config (which encoder the inputs come from).
        language_model: ``(GPT2LMHeadModel, tokenizer)`` (:func:`.gpt2.require_gpt2`): decode with GPT-2's
            pretrained blocks (:class:`.gpt2.GPT2PrefixDecoder`) instead of a Transformer from scratch.
        device: where to train (``"cuda"`` on a GPU machine); the captioner stays there.  The order of
            examples and the initial weights do not depend on it.

    Raises:
        ValueError: shapes disagree, or no clip has a non-empty caption.
    """
    from tqdm.auto import tqdm

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(captions):
        raise ValueError(f"x must be (n_clips, D) with one caption list per clip; got {x.shape} and "
                         f"{len(captions)} caption lists")
    rows, texts = _pairs(captions)
    if not rows:
        raise ValueError("no clip has a non-empty caption: nothing to train on")
    vocab = Vocabulary.build(texts, cfg.min_count)
    torch.manual_seed(seed)
    if language_model is not None:
        model: PrefixDecoder | GPT2PrefixDecoder = GPT2PrefixDecoder.from_pretrained(
            x.shape[1], vocab, cfg, *language_model)
    else:
        model = PrefixDecoder(x.shape[1], len(vocab), cfg)
    used = x[sorted(set(rows))]
    model.mean.copy_(torch.from_numpy(used.mean(axis=0)))
    model.std.copy_(torch.from_numpy(np.maximum(used.std(axis=0), 1e-6)))
    model.to(device)
    xt, rows_t = torch.from_numpy(x).to(device), torch.tensor(rows)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    draw, pairs_per_epoch = _reference_sampler(rows, cfg.references_per_epoch, gen)
    steps_per_epoch = math.ceil(pairs_per_epoch / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs

    def lr_at(step: int) -> float:
        if step < steps_per_epoch:
            return (step + 1) / steps_per_epoch
        return 0.5 * (1 + math.cos(math.pi * (step - steps_per_epoch) / max(1, total - steps_per_epoch)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    valid_batches = [tuple(t.to(device) for t in batch) for batch in _valid_batches(valid, vocab, cfg)] \
        if valid is not None else []
    history, best, best_loss = [], None, math.inf
    for epoch in tqdm(range(cfg.epochs), desc="captioner", disable=not progress):
        model.train()
        chosen = draw()
        order = chosen[torch.randperm(len(chosen), generator=gen)]
        total_loss = 0.0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            inputs, targets = _batch(vocab, [texts[i] for i in idx.tolist()], cfg.max_words)
            loss = _loss(model, xt[rows_t[idx].to(device)], inputs.to(device), targets.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total_loss += float(loss.detach()) * len(idx)
        record = {"epoch": epoch + 1, "train_loss": total_loss / len(order)}
        if valid_batches:
            model.eval()
            with torch.no_grad():
                losses = [(float(_loss(model, xb, ib, tb)), len(ib)) for xb, ib, tb in valid_batches]
            record["valid_loss"] = sum(v * n for v, n in losses) / sum(n for _, n in losses)
            if record["valid_loss"] < best_loss:
                best_loss, best = record["valid_loss"], copy.deepcopy(model.state_dict())
        history.append(record)
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    return Captioner(model, vocab, cfg, dict(embedder or {}), history)


def _pairs(captions: Sequence[Sequence[str]]) -> tuple[list[int], list[str]]:
    """(clip index, caption) for every non-empty caption with at least one word."""
    from .vocab import clean_caption, tokenize

    rows, texts = [], []
    for i, refs in enumerate(captions):
        for ref in [refs] if isinstance(refs, str) else refs:
            text = clean_caption(ref)
            if tokenize(text):
                rows.append(i)
                texts.append(text)
    return rows, texts


def _reference_sampler(rows: Sequence[int], per_clip: int, gen: torch.Generator
                       ) -> tuple[Callable[[], torch.Tensor], int]:
    """``(draw, n)``: ``draw()`` gives this epoch's pair indices -- every pair, or ``per_clip`` random
    references of each clip -- and ``n`` is how many that is."""
    everything = torch.arange(len(rows))
    if not per_clip:
        return (lambda: everything), len(rows)
    groups: dict[int, list[int]] = {}
    for pair, clip in enumerate(rows):
        groups.setdefault(clip, []).append(pair)
    pairs = [torch.tensor(g) for g in groups.values()]

    def draw() -> torch.Tensor:
        return torch.cat([g[torch.randperm(len(g), generator=gen)[:per_clip]] for g in pairs])

    return draw, sum(min(per_clip, len(g)) for g in pairs)


def _valid_batches(valid: tuple[np.ndarray, Sequence[Sequence[str]]], vocab: Vocabulary, cfg: DecoderConfig
                   ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    xv = torch.from_numpy(np.asarray(valid[0], dtype=np.float32))
    rows, texts = _pairs(valid[1])
    out = []
    for start in range(0, len(rows), 256):
        inputs, targets = _batch(vocab, texts[start:start + 256], cfg.max_words)
        out.append((xv[rows[start:start + 256]], inputs, targets))
    return out


def _beam_search(model: nn.Module, x: torch.Tensor, k: int, max_words: int) -> list[list[int]]:
    """Token ids (without <bos>) of the best beam per clip; (B, D) -> B lists."""
    b, device = x.shape[0], x.device
    xk = x.repeat_interleave(k, dim=0)  # (B*K, D)
    seqs = torch.full((b * k, 1), BOS, dtype=torch.long, device=device)
    scores = torch.full((b, k), -math.inf, device=device)
    scores[:, 0] = 0.0
    done = torch.zeros(b * k, dtype=torch.bool, device=device)
    lengths = torch.zeros(b * k, device=device)
    for step in range(max_words + 1):
        logp = torch.log_softmax(model(xk, seqs)[:, -1].float(), dim=-1)  # (B*K, V)
        logp[:, [PAD, BOS, UNK]] = -math.inf
        if step == 0:
            logp[:, EOS] = -math.inf  # at least one word
        if step == max_words:
            logp[:, :] = -math.inf
            logp[:, EOS] = 0.0  # stop
        logp[done] = -math.inf
        logp[done, PAD] = 0.0  # a finished beam only pads, at no cost
        v = logp.shape[1]
        total = (scores.view(-1, 1) + logp).view(b, k * v)
        top, index = total.topk(k, dim=1)
        beam, token = index // v, index % v
        src = (torch.arange(b, device=device)[:, None] * k + beam).view(-1)
        token = token.view(-1)
        seqs = torch.cat([seqs[src], token[:, None]], dim=1)
        lengths = lengths[src] + (~done[src]).float()
        done = done[src] | (token == EOS)
        scores = top
        if bool(done.all()):
            break
    best = (scores.view(-1) / lengths.clamp(min=1)).view(b, k).argmax(dim=1)
    chosen = seqs[torch.arange(b, device=device) * k + best, 1:].cpu()
    return [[int(t) for t in row if int(t) != PAD] for row in chosen]
