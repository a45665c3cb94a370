"""BLIP with random weights (no hub access needed): the full-size BLIP-base architecture for
throughput, and a tiny one for tests and for benchmarks where the model must cost nothing."""

from __future__ import annotations

from pathlib import Path


def save_random_blip_base(folder: Path, seed: int = 0, initializer_range: float | None = None) -> Path:
    """Save a ``BlipConfig()``-default model and a matching processor to ``folder``.

    With the default initialisation the random decoder writes the same caption for every image;
    a larger ``initializer_range`` (0.05) makes captions depend on the image, which is what a
    check of identical captions across backends needs.
    """
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip import BlipImageProcessorPil

    if (folder / "model.safetensors").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    config = BlipConfig()  # BLIP-base sizes: ViT-B/16 at 384 px, BERT-base decoder
    if initializer_range is not None:
        config = BlipConfig(
            vision_config={"initializer_range": initializer_range},
            text_config={"initializer_range": initializer_range},
            initializer_range=initializer_range,
        )
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


TINY_WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "[DEC]",
    "a",
    "an",
    "the",
    "of",
    "on",
    "in",
    "with",
    "man",
    "woman",
    "dog",
    "cat",
    "red",
    "blue",
    "green",
    "sitting",
    "standing",
    "table",
    "car",
    "tree",
    "sky",
    "house",
    "picture",
    "photo",
    "white",
    "black",
    "small",
    "large",
    "two",
    "people",
    "street",
    "arafed",
    "building",
    "flower",
    "field",
    "water",
    "boat",
    "bird",
]


def save_tiny_blip(folder: Path) -> Path:
    """A tiny random BLIP (32 px input, 2 layers) saved with save_pretrained, loaded back like a real one."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip import BlipImageProcessorPil

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(TINY_WORDS)})
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    config = BlipConfig(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "initializer_range": 0.2,
        },
        text_config={
            "vocab_size": len(TINY_WORDS),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "bos_token_id": 5,
            "pad_token_id": 0,
            "sep_token_id": 3,
            "eos_token_id": 3,
            "max_position_embeddings": 64,
            "initializer_range": 0.2,
        },
        projection_dim=32,
        initializer_range=0.2,  # large random weights make captions depend on the image
    )
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(config).eval()
    # A random decoder happily emits [MASK]/[PAD]; suppress them (saved in generation_config.json)
    # so that, with --min-new-tokens, every caption has words and tests can expect exact outcomes.
    model.generation_config.suppress_tokens = [0, 1, 2, 4, 5]
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
