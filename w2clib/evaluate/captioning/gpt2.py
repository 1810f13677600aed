"""The optional pretrained language-model decoder (GPT-2 through ``transformers``), user machines only.

GPT-2's weights come from the Hugging Face hub; this module only checks that they can be loaded and
says what to download when they cannot (offline machines use ``decoder_kind: prefix``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["GPT2_NAME", "require_gpt2"]

GPT2_NAME = "gpt2"  # the 124M-parameter GPT-2 of the Hugging Face hub
DOWNLOAD = (
    "python -c \"from transformers import GPT2LMHeadModel, GPT2TokenizerFast; "
    "GPT2LMHeadModel.from_pretrained('gpt2'); GPT2TokenizerFast.from_pretrained('gpt2')\""
)


def require_gpt2() -> tuple[Any, Any]:
    """GPT-2 (model, tokenizer) from the local Hugging Face cache, never downloading.

    Raises:
        RuntimeError: ``transformers`` or the cached weights are missing (the message says what to run
            on a machine with internet access); and, until the GPT-2 prefix decoder exists, after a
            successful load, because only ``decoder_kind: prefix`` is implemented.
    """
    try:
        from transformers import GPT2LMHeadModel, GPT2TokenizerFast
    except ImportError as err:
        raise RuntimeError("decoder_kind: gpt2 needs transformers: pip install 'transformers>=4.40'") from err
    try:
        model = GPT2LMHeadModel.from_pretrained(GPT2_NAME, local_files_only=True)
        tokenizer = GPT2TokenizerFast.from_pretrained(GPT2_NAME, local_files_only=True)
    except OSError as err:
        raise RuntimeError(
            "decoder_kind: gpt2 needs the GPT-2 weights (~550 MB) in the Hugging Face cache, and they are not "
            f"here. On a machine with internet access run:\n  {DOWNLOAD}\n(or copy ~/.cache/huggingface/hub "
            "from one); offline, set captioning.decoder_kind: prefix"
        ) from err
    return model, tokenizer
