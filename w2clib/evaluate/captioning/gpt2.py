"""The optional pretrained language-model decoder: GPT-2's Transformer under the prefix captioner.

``captioning.decoder_kind: gpt2`` swaps the small Transformer trained from scratch for GPT-2's
pretrained blocks (124 M parameters, through ``transformers``), fine-tuned with the prefix MLP.
The audio embedding becomes ``prefix_length`` vectors of GPT-2's width, as in ClipCap.

Our choice, and why: the captioner keeps the project's **word vocabulary** (built from the training
captions, :mod:`.vocab`) instead of GPT-2's byte-pair tokens, so both decoder kinds share one beam
search, one ``<unk>`` rule and exactly the words the caption metrics score.  GPT-2's knowledge enters
through its blocks and through the word embeddings, each initialised as the mean of GPT-2's input
embeddings of the word's BPE pieces (with a leading space, as words appear mid-sentence); the output
layer is tied to those embeddings, as GPT-2's own is.  ``<bos>`` and ``<eos>`` start from GPT-2's
``<|endoftext|>`` embedding.

GPT-2's weights come from the Hugging Face hub: :func:`require_gpt2` loads them from the local cache
only and says what to download when they are missing (offline machines use ``decoder_kind: prefix``).
A trained captioner saves GPT-2's architecture with its weights, so loading it needs no download.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .vocab import BOS, EOS, PAD, SPECIALS, Vocabulary

__all__ = ["GPT2_NAME", "GPT2PrefixDecoder", "require_gpt2", "gpt2_from_config"]

GPT2_NAME = "gpt2"  # the 124M-parameter GPT-2 of the Hugging Face hub
DOWNLOAD = (
    "python -c \"from transformers import GPT2LMHeadModel, GPT2TokenizerFast; "
    "GPT2LMHeadModel.from_pretrained('gpt2'); GPT2TokenizerFast.from_pretrained('gpt2')\""
)


def require_gpt2(name: str = GPT2_NAME) -> tuple[Any, Any]:
    """GPT-2 ``(GPT2LMHeadModel, tokenizer)`` from the local Hugging Face cache, never downloading.

    Raises:
        RuntimeError: ``transformers`` or the cached weights are missing; the message says what to run
            on a machine with internet access.
    """
    try:
        from transformers import GPT2LMHeadModel, GPT2TokenizerFast
    except ImportError as err:
        raise RuntimeError("decoder_kind: gpt2 needs transformers: pip install 'transformers>=4.40'") from err
    try:
        model = GPT2LMHeadModel.from_pretrained(name, local_files_only=True)
        tokenizer = GPT2TokenizerFast.from_pretrained(name, local_files_only=True)
    except OSError as err:
        raise RuntimeError(
            "decoder_kind: gpt2 needs the GPT-2 weights (~550 MB) in the Hugging Face cache, and they are not "
            f"here. On a machine with internet access run:\n  {DOWNLOAD}\n(or copy ~/.cache/huggingface/hub "
            "from one); offline, set captioning.decoder_kind: prefix"
        ) from err
    return model, tokenizer


def gpt2_from_config(config: dict[str, Any]) -> nn.Module:
    """An (untrained) ``GPT2Model`` of a saved architecture: loading a captioner needs no download."""
    from transformers import GPT2Config, GPT2Model

    return GPT2Model(GPT2Config.from_dict(config))


def _word_embeddings(vocab: Vocabulary, wte: torch.Tensor, tokenizer: Any) -> torch.Tensor:
    """(V, d): each word = mean of GPT-2's input embeddings of its BPE pieces (" word")."""
    eot = tokenizer.eos_token_id if getattr(tokenizer, "eos_token_id", None) is not None else wte.shape[0] - 1
    rows = torch.empty(len(vocab), wte.shape[1])
    for i, word in enumerate(vocab.words):
        if i < len(SPECIALS):
            rows[i] = wte[eot] if i in (BOS, EOS) else (0.0 if i == PAD else wte.mean(dim=0))
            continue
        pieces = [p for p in tokenizer.encode(" " + word) if 0 <= p < wte.shape[0]]
        rows[i] = wte[pieces].mean(dim=0) if pieces else wte.mean(dim=0)
    return rows


class GPT2PrefixDecoder(nn.Module):
    """Prefix MLP + GPT-2 blocks + tied word head.  ``forward(x (B, D), tokens (B, T)) -> (B, T, V)``.

    Same interface as :class:`w2clib.evaluate.captioning.decoder.PrefixDecoder` (``mean``/``std``
    input standardisation buffers, ``cfg``), so training, beam search and saving are shared.
    """

    def __init__(self, input_dim: int, vocab_size: int, cfg: Any, transformer: nn.Module) -> None:
        super().__init__()
        self.cfg, p = cfg, cfg.prefix_length
        d = int(transformer.config.n_embd)
        if p + cfg.max_words + 2 > int(transformer.config.n_positions):
            raise ValueError(f"captioning.decoder: prefix_length + max_words + 2 must fit GPT-2's "
                             f"{transformer.config.n_positions} positions")
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("std", torch.ones(input_dim))
        self.prefix = nn.Sequential(nn.Linear(input_dim, d * p // 2), nn.Tanh(), nn.Linear(d * p // 2, d * p))
        self.transformer = transformer
        self.tokens = nn.Embedding(vocab_size, d, padding_idx=PAD)

    @classmethod
    def from_pretrained(cls, input_dim: int, vocab: Vocabulary, cfg: Any, language_model: Any,
                        tokenizer: Any) -> GPT2PrefixDecoder:
        """Blocks from a ``GPT2LMHeadModel`` (its ``.transformer``), word embeddings from its ``wte``."""
        transformer = language_model.transformer
        model = cls(input_dim, len(vocab), cfg, transformer)
        with torch.no_grad():
            model.tokens.weight.copy_(_word_embeddings(vocab, transformer.wte.weight.detach().float(), tokenizer))
        return model

    def architecture(self) -> dict[str, Any]:
        return self.transformer.config.to_dict()

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, p = x.shape[0], self.cfg.prefix_length
        prefix = self.prefix((x - self.mean) / self.std).view(b, p, -1)
        seq = torch.cat([prefix, self.tokens(tokens)], dim=1)
        h = self.transformer(inputs_embeds=seq).last_hidden_state  # causal; GPT-2 adds its positions
        return h[:, p:] @ self.tokens.weight.T  # tied to the word embeddings, as GPT-2's head is
