#!/usr/bin/env python3
"""Reference results of Hugging Face's BpeTrainer for tests/core/tokenizer/bpe_trainer_test.cpp.

    python3 experiments/tokenizer/make_trainer_fixtures.py        # needs `tokenizers` and Debian's fortunes

Trains exactly as MiniMind's train_tokenizer.py does (BPE model, ByteLevel pre-tokenizer without prefix space,
BpeTrainer with the byte alphabet as initial alphabet) on a few small corpora at a few vocab sizes, and writes
tests/fixtures/tokenizer_trainer/<case>.json: the documents (one train_from_iterator item each), and per run
the options, the tokens by id, the merges in rank order and the added tokens. Corpora come from the Debian
packages fortunes and fortunes-zh (/usr/share/games/fortunes) and from text generated here with fixed seeds,
so the output is the same on every run.
"""
import argparse
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORTUNES = "/usr/share/games/fortunes"
MINIMIND_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def fortunes(name, max_bytes):
    """The first fortunes of a fortune file, each one document, up to max_bytes of UTF-8."""
    path = os.path.join(FORTUNES, name)
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: install Debian's fortunes and fortunes-zh packages")
    with open(path, encoding="utf-8", newline="") as f:
        entries = [entry.strip("\n") + "\n" for entry in f.read().split("\n%\n") if entry.strip()]
    documents, size = [], 0
    for entry in entries:
        size += len(entry.encode("utf-8"))
        if size > max_bytes:
            break
        documents.append(entry)
    return documents


def english():
    return fortunes("literature", 12000) + fortunes("computers", 10000) + fortunes("wisdom", 8000)


def chinese():
    return fortunes("tang300", 14000) + fortunes("song100", 8000) + fortunes("chinese", 4000)


def mixed():
    """Scripts, digits, code, emoji, contractions and every kind of whitespace the pre-tokenizer treats
    specially (NEL U+0085 and NBSP are whitespace to it, U+180E and U+200B are not)."""
    pieces = [
        "Hello, world! It's a test: we'll see what they've done, I'd say. THEY'RE LOUD'S.\n",
        "你好，世界！这是一个测试。我们来看看分词器如何处理中文和English混合的文本。\n",
        "def train(corpus, vocab_size=6400):\n    for line in corpus:\n        yield line.strip()\n\treturn 42\n",
        "Emoji: 😀😃😄 👩‍👩‍👧‍👦 🇨🇳🇺🇸 ✨ and math: ∑ᵢ xᵢ² ≤ 3.14159 × 10⁻⁵ ½ Ⅻ ٣٤٥ ๓\n",
        "Whitespace:\u00a0nbsp,\u3000ideographic,\u2028line sep,\u0085next line,\u180emongolian,\u200bzwsp.\n",
        "Runs:   three spaces,\t\ttwo tabs,\r\nCRLF, trailing spaces   \n\n\n   leading\n",
        "Special text <|im_start|>user\nhi<|im_end|>\n<|endoftext|> stays plain text to the trainer.\n",
        "Ünïcödé àccents, Ελληνικά, русский текст, עברית, العربية, हिन्दी, 日本語のテキスト, 한국어.\n",
        "Numbers 1234567890 and 12,345.67 and 1st 2nd 3rd; URLs https://example.com/a?b=c&d=e#f\n",
    ]
    rng = random.Random(20240601)
    documents = []
    for _ in range(40):
        count = rng.randint(1, 4)
        documents.append("".join(rng.choice(pieces) for _ in range(count)))
    return documents


def ties():
    """Degenerate text where many pairs have equal counts and runs of one symbol overlap."""
    documents = ["ab ab ab ab ab ab\n"] * 5
    documents += ["a b c d e f g h\n", "ba dc fe hg\n", "aaaa bbbb aaaa bbbb\n", "abab abab baba\n"]
    documents += ["xyz zyx yzx xzy\n" * 3, "aaaaaaa aaaaa aaa a\n"]
    return documents


def runs():
    """Runs of one or two letters and of indentation, of random lengths: merges of a symbol with itself."""
    rng = random.Random(7)
    documents = []
    for _ in range(150):
        words = [rng.choice("aab") * rng.randint(1, 12) for _ in range(12)]
        documents.append(" ".join(words) + "\n" + " " * rng.randint(1, 9) + "x\n")
    return documents


CASES = {
    # name: (documents, [(vocab_size, special_tokens, min_frequency), ...])
    "english": (english, [(300, MINIMIND_SPECIALS, 0), (500, MINIMIND_SPECIALS, 0),
                          (1000, MINIMIND_SPECIALS, 0), (1000, MINIMIND_SPECIALS, 8)]),
    "chinese": (chinese, [(300, MINIMIND_SPECIALS, 0), (1000, MINIMIND_SPECIALS, 0)]),
    "mixed": (mixed, [(500, MINIMIND_SPECIALS, 0), (1000, [], 0)]),
    "ties": (ties, [(300, MINIMIND_SPECIALS, 0), (400, ["<s>"], 2)]),
    "runs": (runs, [(330, ["<|endoftext|>"], 0)]),
    # Fewer ids than specials + alphabet: no merge, the whole alphabet still comes in.
    "tiny_vocab": (ties, [(100, MINIMIND_SPECIALS, 0), (259, MINIMIND_SPECIALS, 0)]),
    # A special spelled like a byte character, a duplicate, and one the merges spell ("ab" keeps its id).
    "special_edges": (ties, [(300, ["<|endoftext|>", "!", "ab", "<|endoftext|>", "a b"], 0)]),
}


def train(documents, vocab_size, special_tokens, min_frequency):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens,
                                  min_frequency=min_frequency, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(documents, trainer)
    saved = json.loads(tokenizer.to_str())
    vocab = saved["model"]["vocab"]
    tokens_by_id = [None] * len(vocab)
    for token, token_id in vocab.items():
        tokens_by_id[token_id] = token
    assert None not in tokens_by_id, "ids are not contiguous"
    merges = [list(m) if isinstance(m, list) else m.split(" ") for m in saved["model"]["merges"]]
    added = [{"id": t["id"], "content": t["content"], "special": t["special"]} for t in saved["added_tokens"]]
    return {"vocab_size": vocab_size, "special_tokens": special_tokens, "min_frequency": min_frequency,
            "tokens_by_id": tokens_by_id, "merges": merges, "added_tokens": added}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "tokenizer_trainer"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name, (make_documents, runs_spec) in CASES.items():
        documents = make_documents()
        case = {"generator": f"Hugging Face tokenizers {tokenizers.__version__}, "
                             "experiments/tokenizer/make_trainer_fixtures.py",
                "documents": documents,
                "runs": [train(documents, *spec) for spec in runs_spec]}
        path = os.path.join(args.out, f"{name}.json")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            json.dump(case, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
        size = os.path.getsize(path)
        total += size
        summary = ", ".join(f"vocab {r['vocab_size']}: {len(r['tokens_by_id'])} tokens, {len(r['merges'])} merges"
                            for r in case["runs"])
        print(f"{name:14s} {len(documents):4d} documents, {size / 1024:6.1f} KiB  ({summary})")
    print(f"total {total / 1024:.1f} KiB in {args.out}")


if __name__ == "__main__":
    main()
