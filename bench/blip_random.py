"""Build the full-size BLIP-base architecture with random weights (no hub access needed)."""

from __future__ import annotations

from pathlib import Path


def save_random_blip_base(folder: Path, seed: int = 0) -> Path:
    """Save a ``BlipConfig()``-default model and a matching processor to ``folder``."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip import BlipImageProcessorPil

    if (folder / "model.safetensors").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    config = BlipConfig()  # BLIP-base sizes: ViT-B/16 at 384 px, BERT-base decoder
    vocab_size = config.text_config.vocab_size
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = specials + [f"w{i}" for i in range(vocab_size - len(specials) - 1)] + ["[DEC]"]
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(words)})
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 384, "width": 384}), tokenizer=tokenizer
    )
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
