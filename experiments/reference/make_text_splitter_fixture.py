"""Writes tests/fixtures/text_splitter/langchain_recursive.json: chunks made by LangChain's
RecursiveCharacterTextSplitter with MiniMind's separators ("\\n\\n", "\\n", "。", "，", " ", "") and its other
defaults (keep_separator=True, strip_whitespace=True, length = len()), for hand-written texts and seeded random
ones, at several chunk sizes and overlaps. The C++ TextSplitter must give exactly the same chunks.

Needs langchain-text-splitters (pip install langchain-text-splitters, in a virtual environment); the tests
only read the JSON it writes. Deterministic: the random texts come from a fixed seed.

    python3 experiments/reference/make_text_splitter_fixture.py [--out tests/fixtures/text_splitter]
"""

import argparse
import json
import os
import random

import importlib.metadata

from langchain_text_splitters import RecursiveCharacterTextSplitter

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEPARATORS = ["\n\n", "\n", "。", "，", " ", ""]

TEXTS = {
    "chinese_prose": (
        "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？人不知而不愠，不亦君子乎？\n\n"
        "床前明月光，疑是地上霜。举头望明月，低头思故乡。\n"
        "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。\n\n\n"
        "天下皆知美之为美，斯恶已。皆知善之为善，斯不善已。故有无相生，难易相成，长短相形，高下相倾，"
        "音声相和，前后相随。"
    ),
    "english_prose": (
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness.\n\nCall me Ishmael. Some years ago - never mind how long precisely - having little or no "
        "money in my purse, and nothing particular to interest me on shore, I thought I would sail about a "
        "little and see the watery part of the world.\nThe end."
    ),
    "mixed_scripts": (
        "MiniMind 是一个小模型。It trains on CPU，也能用 GPU。😀 emoji 🚀🚀 and café, naïve.\n"
        "Ünïcödé\u3000全角空格\u3000之后。\t tab\there.\n\n"
        "数字 12345 与 English words mixed，逗号，句号。"
    ),
    "whitespace_runs": "   leading spaces\n\n\n\n   \n  middle     runs   \n\t\n\u3000\u3000\n trailing   \n\n ",
    "unbreakable": "x" * 45 + " " + "长" * 30 + "，" + "y" * 12,
    "only_separators": "\n\n\n。。。，，，   \n",
    "short": "短文本。",
    "empty": "",
}

PARAMETERS = [(1, 0), (2, 1), (3, 0), (5, 0), (5, 2), (7, 7), (10, 3), (16, 0), (20, 5), (32, 8), (50, 10),
              (100, 20), (400, 50)]

RANDOM_ALPHABET = ["a", "b", "c", "Z", "中", "文", "字", "😀", "é", " ", " ", "\n", "\n\n", "。", "，", "\u3000",
                   "\t", "x y", "。\n"]


def split(text, chunk_size, chunk_overlap):
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                                              separators=SEPARATORS)
    return splitter.split_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "fixtures", "text_splitter"))
    args = parser.parse_args()

    cases = []
    for name, text in TEXTS.items():
        for chunk_size, chunk_overlap in PARAMETERS:
            cases.append(dict(name=name, chunk_size=chunk_size, chunk_overlap=chunk_overlap, text=text,
                              chunks=split(text, chunk_size, chunk_overlap)))
    rng = random.Random(20240611)
    for index in range(150):
        length = rng.randint(0, 120)
        text = "".join(rng.choice(RANDOM_ALPHABET) for _ in range(length))
        chunk_size = rng.choice([1, 2, 3, 4, 6, 8, 12, 20, 40])
        chunk_overlap = rng.randint(0, chunk_size)
        cases.append(dict(name=f"random_{index}", chunk_size=chunk_size, chunk_overlap=chunk_overlap, text=text,
                          chunks=split(text, chunk_size, chunk_overlap)))

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "langchain_recursive.json")
    header = dict(made_by="experiments/reference/make_text_splitter_fixture.py",
                  langchain_text_splitters=importlib.metadata.version("langchain-text-splitters"),
                  separators=SEPARATORS)
    # One case per line keeps the file small and its diffs readable.
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "cases": [\n')
        out.write(",\n".join(json.dumps(case, ensure_ascii=False) for case in cases))
        out.write("\n]}\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
