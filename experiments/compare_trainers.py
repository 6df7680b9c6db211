#!/usr/bin/env python3
"""Side by side: Hugging Face's BpeTrainer (as MiniMind's train_tokenizer.py runs it) and the lab's BpeTrainer
(build/experiments/bpe_train_bench) on the same corpus and vocab size: training time, whether the vocab and
merges are identical, and the compression each tokenizer reaches on the corpus (bytes of UTF-8 per token).

    python3 experiments/compare_trainers.py                       # fortunes corpus, vocab 6400, 1 thread
    python3 experiments/compare_trainers.py --corpus FILE --vocab-size 6400 --threads 1 --repeat 3

Documents are the corpus lines, each with its "\\n" (both trainers see the same ones). The default corpus is
every fortune file of Debian's fortunes and fortunes-zh packages concatenated (about 4.8 MB); without them a
pseudo-English text of the same size is generated with a fixed seed. Times are the best of --repeat runs: for
Hugging Face, train_from_iterator over the lines already in memory; for the lab, feeding (which includes
reading the file line by line) plus training, as the bench reports them. Compression is measured the same way
for both models: Hugging Face tokenizers, loaded with each model's vocab and merges, encodes every line and
the token counts are summed. The `tokenizers` package is needed; RAYON_NUM_THREADS sets Hugging Face's threads
(the lab's trainer runs on one).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORTUNES = "/usr/share/games/fortunes"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def default_corpus(directory):
    path = os.path.join(directory, "corpus.txt")
    names = sorted(n for n in os.listdir(FORTUNES) if not n.endswith((".dat", ".u8"))) \
        if os.path.isdir(FORTUNES) else []
    with open(path, "wb") as out:
        if names:
            for name in names:
                full = os.path.join(FORTUNES, name)
                if os.path.isfile(full):
                    with open(full, "rb") as f:
                        out.write(f.read())
        else:
            rng = random.Random(1234)
            syllables = [a + b for a in "bcdfghjklmnprstvw" for b in "aeiou"]
            words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(20000)]
            weights = [1.0 / (rank + 1) for rank in range(len(words))]
            size = 0
            while size < 4_800_000:
                line = " ".join(rng.choices(words, weights, k=rng.randint(3, 16))).capitalize() + ".\n"
                out.write(line.encode())
                size += len(line)
    return path, ("Debian fortunes + fortunes-zh" if names else "generated pseudo-English")


def read_documents(path):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def hf_train(documents, vocab_size):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    start = time.perf_counter()
    tokenizer.train_from_iterator(documents, trainer)
    elapsed = time.perf_counter() - start
    saved = json.loads(tokenizer.to_str())
    vocab = saved["model"]["vocab"]
    tokens_by_id = [None] * len(vocab)
    for token, token_id in vocab.items():
        tokens_by_id[token_id] = token
    merges = [list(m) if isinstance(m, list) else m.split(" ") for m in saved["model"]["merges"]]
    return elapsed, tokens_by_id, merges


def lab_train(bench, corpus, vocab_size, output):
    command = [bench, "--corpus", corpus, "--vocab-size", str(vocab_size), "--output", output]
    for special in SPECIALS:
        command += ["--special", special]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    with open(output, encoding="utf-8") as f:
        trained = json.load(f)
    return figures, trained["tokens_by_id"], trained["merges"]


def bytes_per_token(tokens_by_id, merges, documents):
    """Compression of a model: Hugging Face tokenizers built from its vocab and merges encodes every line."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    vocab = {token: token_id for token_id, token in enumerate(tokens_by_id)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in merges]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    tokens = sum(len(encoding.ids) for encoding in tokenizer.encode_batch(documents, add_special_tokens=False))
    corpus_bytes = sum(len(d.encode("utf-8")) for d in documents)
    return corpus_bytes / tokens, tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="a UTF-8 text file (default: see above)")
    parser.add_argument("--vocab-size", type=int, default=6400)
    parser.add_argument("--threads", type=int, default=1, help="Hugging Face's threads (RAYON_NUM_THREADS)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs of each trainer")
    parser.add_argument("--bench", default=os.path.join(ROOT, "build", "experiments", "bpe_train_bench"))
    args = parser.parse_args()
    # Read by the Rust thread pool when tokenizers first uses it, so it must be set before the import.
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    os.environ["RAYON_RS_NUM_CPUS"] = str(args.threads)
    import tokenizers
    if not os.path.exists(args.bench):
        sys.exit(f"{args.bench} not found: build it first (ninja -C build bpe_train_bench)")

    with tempfile.TemporaryDirectory() as scratch:
        corpus, origin = (args.corpus, args.corpus) if args.corpus else default_corpus(scratch)
        documents = read_documents(corpus)
        corpus_bytes = sum(len(d.encode("utf-8")) for d in documents)

        hf_times, lab_runs = [], []
        for _ in range(args.repeat):
            hf_elapsed, hf_tokens, hf_merges = hf_train(documents, args.vocab_size)
            hf_times.append(hf_elapsed)
            lab_runs.append(lab_train(args.bench, corpus, args.vocab_size, os.path.join(scratch, "lab.json")))
        lab_figures = min((run[0] for run in lab_runs), key=lambda f: f["total_s"])
        _, lab_tokens, lab_merges = lab_runs[-1]

        identical = hf_tokens == lab_tokens and hf_merges == lab_merges
        hf_bpt, hf_count = bytes_per_token(hf_tokens, hf_merges, documents)
        lab_bpt, lab_count = bytes_per_token(lab_tokens, lab_merges, documents)

    print(f"corpus: {origin}: {corpus_bytes / 1e6:.2f} MB, {len(documents)} lines, "
          f"{lab_figures['unique_words']} distinct pre-tokens; vocab_size {args.vocab_size}; "
          f"best of {args.repeat}")
    print(f"Hugging Face tokenizers {tokenizers.__version__} on {args.threads} thread(s); "
          f"lab trainer on 1 thread (feed {lab_figures['feed_s']:.3f} s + train {lab_figures['train_s']:.3f} s)")
    print()
    header = f"| {'trainer':<26} | {'time (s)':>8} | {'vocab':>5} | {'merges':>6} | {'tokens':>9} | {'bytes/token':>11} |"
    print(header)
    print("|" + "|".join("-" * (len(cell) + 0) for cell in header.split("|")[1:-1]) + "|")
    print(f"| {'Hugging Face BpeTrainer':<26} | {min(hf_times):>8.3f} | {len(hf_tokens):>5} | {len(hf_merges):>6} "
          f"| {hf_count:>9} | {hf_bpt:>11.3f} |")
    print(f"| {'lab BpeTrainer':<26} | {lab_figures['total_s']:>8.3f} | {len(lab_tokens):>5} | "
          f"{len(lab_merges):>6} | {lab_count:>9} | {lab_bpt:>11.3f} |")
    print()
    print(f"speed-up {min(hf_times) / lab_figures['total_s']:.1f}x; vocab and merges identical: "
          f"{'yes' if identical else 'NO'}")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
