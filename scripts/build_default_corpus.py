#!/usr/bin/env python3
"""Builds the lab's default corpus, resources/corpus/default/{pretrain,sft}.jsonl, from Debian's fortunes.

Reads the files installed by the Debian packages fortunes, fortunes-min and fortunes-zh, keeps the files and
sections whose licence is clear (resources/corpus/default/SOURCES.md says which and why), cleans and
deduplicates the entries and writes them in the lab's JSONL formats. Plain python3 without third-party
packages; the output depends only on the installed files, so the same package versions give byte-identical
output.

    sudo apt-get install fortunes fortunes-min fortunes-zh
    python3 scripts/build_default_corpus.py            # writes resources/corpus/default/
"""

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FORTUNE_DIR = Path("/usr/share/games/fortunes")
DEFAULT_OUTPUT_DIR = REPOSITORY_ROOT / "resources" / "corpus" / "default"
# fortunes-zh is distributed under GPL-3.0-or-later, whose text goes with the corpus (from base-files).
GPL_3_TEXT = Path("/usr/share/common-licenses/GPL-3")

# The versions the shipped corpus was built from; other versions still build, with a warning, but the output
# (and the statistics in docs/corpus.md) will differ.
EXPECTED_PACKAGE_VERSIONS = {
    "fortunes": "1:1.99.1-7.3",
    "fortunes-min": "1:1.99.1-7.3",
    "fortunes-zh": "2.98",
}

# Documents are written in the order of the SHA-256 of this salt followed by the text: a seeded shuffle that
# does not depend on Python's random module (whose algorithms may change between versions), so any prefix or
# suffix of pretrain.jsonl (a validation split, say) mixes all sources.
ORDER_SALT = "minimind-default-corpus-v1\n"

# English files (BSD-licensed packages fortunes and fortunes-min), in reading order (which decides, for a
# duplicate, the file it counts for), each with the user prompt its entries answer in sft.jsonl (None: the
# file gives no SFT conversations; its entries are no answers to one fixed question).
ENGLISH_FILES = [
    ("fortunes-min", "fortunes", "Tell me my fortune."),
    ("fortunes-min", "literature", "Give me a quotation about literature or writing."),
    ("fortunes-min", "riddles", "Tell me a riddle."),
    ("fortunes", "art", "Give me a quotation about art or show business."),
    ("fortunes", "computers", "Give me a quotation about computers."),
    ("fortunes", "cookie", None),
    ("fortunes", "debian", "Give me a quotation about Debian."),
    ("fortunes", "definitions", "Give me a humorous definition."),
    ("fortunes", "disclaimer", "Give me a humorous disclaimer."),
    ("fortunes", "drugs", "Give me a quotation about drinking or smoking."),
    ("fortunes", "education", "Give me a quotation about education."),
    ("fortunes", "food", "Give me a quotation about food."),
    ("fortunes", "goedel", None),
    ("fortunes", "humorists", "Tell me something funny."),
    ("fortunes", "kids", "Give me a quotation about children."),
    ("fortunes", "knghtbrd", None),
    ("fortunes", "law", "Give me a quotation about the law."),
    ("fortunes", "linux", "Give me a quotation about Linux."),
    ("fortunes", "linuxcookie", "Give me a quotation about Linux."),
    ("fortunes", "love", "Give me a quotation about love."),
    ("fortunes", "magic", "Give me a quotation about magic."),
    ("fortunes", "medicine", "Give me a quotation about medicine."),
    ("fortunes", "miscellaneous", None),
    ("fortunes", "news", "Give me a quotation about the news."),
    ("fortunes", "paradoxum", "Give me a paradox."),
    ("fortunes", "people", "Give me a quotation about people."),
    ("fortunes", "perl", "Give me a quotation about Perl."),
    ("fortunes", "pets", "Give me a quotation about pets."),
    ("fortunes", "platitudes", "Give me a platitude."),
    ("fortunes", "politics", "Give me a quotation about politics."),
    ("fortunes", "science", "Give me a quotation about science."),
    ("fortunes", "sports", "Give me a quotation about sports."),
    ("fortunes", "translate-me", None),
    ("fortunes", "wisdom", "Share a piece of wisdom."),
    ("fortunes", "work", "Give me a quotation about work."),
]

# Files of those packages left out, with the reason (SOURCES.md has the details).
EXCLUDED_ENGLISH_FILES = {
    "ascii-art": "pictures drawn with characters, not language",
    "ethnic": "jokes about ethnic groups: left out as potentially offensive",
    "men-women": "jokes built on gender stereotypes: left out as potentially offensive",
    "pratchett": "excerpts of Terry Pratchett's novels, in copyright",
    "songs-poems": "mostly complete song lyrics and poems, many in copyright",
    "startrek": "quotations from the Star Trek television scripts, in copyright",
    "tao": "a modern rendering of the Tao Te Ching by an unnamed author: origin unclear",
    "zippy": "quotations from the comic strip Zippy the Pinhead, in copyright",
}


@dataclass(frozen=True)
class ChineseSection:
    """A run of consecutive entries of fortunes-zh's `chinese` file (a concatenation of cookie files).

    A section starts at the one entry whose text (its non-empty lines, stripped and joined by spaces) begins
    with `anchor` and ends where the next section starts; the anchors are checked, so a changed file is
    noticed instead of being cut wrongly."""

    anchor: str
    name: str
    include: bool
    sft_prompt: str | None = None  # user prompt for the section's entries in sft.jsonl; {chapter} is numbered


CHINESE_SECTIONS = [
    ChineseSection("要有礼貌", "Debian documents and modern quotations about software", False),
    ChineseSection("欲做精金美玉的人品", "菜根谭 (Hong Zicheng, Ming dynasty)", True, "请引一段《菜根谭》的原文。"),
    ChineseSection("道，可道，非恒道。", "道德经 (Laozi), 81 chapters", True, "请背诵《道德经》第{chapter}章。"),
    ChineseSection("大学 - 第一章", "大学 and 论语 (Analects)", True, None),
    ChineseSection("《沁园春・长沙》", "poems of Mao Zedong (died 1976)", False),
    ChineseSection("人生若只如初见，何事秋风悲画扇。 -- 纳兰性德", "classical poems with author and title", True, None),
    ChineseSection("青玉案·元夕", "classical prose, fables and 诗经 (Book of Songs)", True, None),
    ChineseSection("枕前发尽千般愿", "classical poems with author and title", True, None),
    ChineseSection("昔时贤文，诲汝谆谆", "增广贤文 and 中庸", True, "请引一段《增广贤文》的原文。"),
    ChineseSection("信任 systemd 的人", "modern jokes, internet memes, anime and modern writers", False),
    ChineseSection("一等二靠三落空", "谚语 (traditional proverbs)", True, "请说一句中国谚语。"),
    ChineseSection("婚姻是一座围城", "quotations of Qian Zhongshu (died 1998)", False),
    ChineseSection("Money is the most universal", "quotations of Yuval Noah Harari", False),
    ChineseSection("精诚所至，金石为开。", "idioms, proverbs and classical lines", True, None),
    ChineseSection("高度的幽默往往源自高度的严肃。", "modern writers, a textbook, mathematics notes", False),
]

# 20th-century poets whose poems appear among the classical ones; their work is left out as still in copyright
# in some countries. (Wang Guowei, Qiu Jin and Huang Zunxian, who died before 1930, stay.)
MODERN_CHINESE_AUTHORS = ("毛泽东", "陈毅")

# English is sampled (in the documents' hash order) down to this many times the Chinese UTF-8 bytes: the
# sources hold about 2.6 times more English than Chinese, and equal bytes are close to equal tokens for the
# MiniMind tokenizer (2.6 and 2.4 bytes per token on this material).
ENGLISH_TO_CHINESE_BYTES = 1.0

# SFT: at most this many conversations per prompt rule, chosen in the documents' hash order; answers longer
# than SFT_MAX_ANSWER_CHARS characters are not used (a chat example should fit a short context).
SFT_MAX_ANSWER_CHARS = 700
SFT_LIMITS = {
    "en": 60,  # per English prompt
    "tang300": 400,
    "song100": 200,
    "zh_poem": 600,
    "zh_titled": 100,
    "shijing": 150,
    "daodejing": 81,
    "lunyu": 150,
    "zh_section": 100,  # per Chinese section with a fixed prompt
}

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
PRIVATE_USE_CHARACTERS = re.compile(r"[\ue000-\uf8ff]")
# Private-use code points the sources hold in place of a character that a legacy encoding lacked, with the
# character the text means (any other private-use character stops the build, to be looked at).
PRIVATE_USE_REPLACEMENTS = {
    "\ue1e5": "发",  # 辛弃疾《鹧鸪天》"多情白发春无奈"
}
POEM_ATTRIBUTION = re.compile(r"^--\s*(?P<author>[^\s《》]+)《(?P<title>[^》]+)》\s*$")
ANY_ATTRIBUTION = re.compile(r"^(--|——)")
SHIJING_TITLE = re.compile(r"^《詩經‧.+》$")
DYNASTY_AND_AUTHOR = re.compile(r"^\[(?P<dynasty>[^\]]+)\]\s*(?P<author>\S+)$")


@dataclass
class SourceStats:
    package: str
    name: str
    language: str
    entries: int = 0
    empty: int = 0
    excluded: int = 0
    duplicates: int = 0
    unselected: int = 0
    kept: int = 0
    bytes: int = 0
    characters: int = 0
    notes: list = field(default_factory=list)


@dataclass
class Document:
    text: str
    language: str  # "en" or "zh"
    stats: SourceStats
    sft_rule: str | None = None
    sft_prompt: str | None = None
    sft_answer: str | None = None


def fail(message):
    sys.exit(f"build_default_corpus: {message}")


def read_fortune_entries(path):
    """Splits a strfile source into its entries, in file order. Entries are separated by lines holding a
    single '%'; trailing spaces after it are allowed (song100 has one such line, plainly a separator)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        fail(f"{path} not found: install the Debian packages fortunes, fortunes-min and fortunes-zh")
    except UnicodeDecodeError as error:
        fail(f"{path}: not UTF-8 at byte {error.start}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    entries, current = [], []
    for line in text.split("\n"):
        if line.rstrip() == "%":
            entries.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if any(line.strip() for line in current):
        entries.append("\n".join(current))
    return entries


def apply_overstrike(line):
    """Renders the old terminal convention of underlining and accents by backspacing ("_\\bx", "'\\bi")."""
    if "\b" not in line:
        return line
    cells, cursor = [], 0
    for character in line:
        if character == "\b":
            cursor = max(0, cursor - 1)
            continue
        if cursor < len(cells):
            if character != "_":  # "_" under a letter only underlines it; anything else overwrites
                cells[cursor] = character
        else:
            cells.append(character)
        cursor += 1
    return "".join(cells)


def clean_entry(raw, language):
    """Colour codes and control characters out, trailing whitespace off, blank lines at either end removed and
    runs of blank lines shortened to one; the text's own line breaks stay. English keeps its indentation
    (attributions are tab-indented by convention) less any indentation common to all lines; Chinese loses its
    indentation, which only centres titles and aligns continuation lines."""
    text = ANSI_ESCAPE.sub("", raw)
    for private_use, meant in PRIVATE_USE_REPLACEMENTS.items():
        text = text.replace(private_use, meant)
    lines = [CONTROL_CHARACTERS.sub("", apply_overstrike(line)).rstrip() for line in text.split("\n")]
    if language == "zh":
        lines = [line.lstrip(" \t\u3000") for line in lines]
    text = textwrap.dedent("\n".join(lines)).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


def dedup_key(text):
    return " ".join(text.split()).casefold()


def installed_version(package):
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                                text=True)
    except FileNotFoundError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def installed_data_files(package, fortune_dir):
    """Names of the fortune data files a package installed (None where dpkg is unavailable)."""
    try:
        result = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    if result.returncode != 0:
        return None
    names = set()
    for line in result.stdout.splitlines():
        path = Path(line)
        if path.parent == fortune_dir and path.suffix not in (".dat", ".u8") and "." not in path.name:
            names.add(path.name)
    return names


def check_packages(fortune_dir):
    """Warns about package versions other than the recorded ones and about data files this script does not
    know (a newer package may add some: they must be reviewed and listed before they are used)."""
    warnings = []
    for package, expected in EXPECTED_PACKAGE_VERSIONS.items():
        version = installed_version(package)
        if version is None:
            warnings.append(f"cannot query the version of {package} (is it installed?)")
        elif version != expected:
            warnings.append(f"{package} {version} installed, the corpus was built from {expected}: "
                            "the output will differ from the shipped one")
    known = {name for _, name, _ in ENGLISH_FILES} | set(EXCLUDED_ENGLISH_FILES)
    for package in ("fortunes", "fortunes-min"):
        names = installed_data_files(package, fortune_dir)
        for name in sorted((names or set()) - known):
            warnings.append(f"{package} installs {name}, which this script neither uses nor excludes: "
                            "skipped")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


class CorpusBuilder:
    def __init__(self):
        self.documents = []
        self.seen = set()
        self.stats = []

    def add(self, stats, text, sft_rule=None, sft_prompt=None, sft_answer=None):
        if not text:
            stats.empty += 1
            return
        key = dedup_key(text)
        if key in self.seen:
            stats.duplicates += 1
            return
        self.seen.add(key)
        self.documents.append(Document(text, stats.language, stats, sft_rule, sft_prompt, sft_answer))

    def add_english_file(self, fortune_dir, package, name, prompt):
        stats = SourceStats(package, name, "en")
        self.stats.append(stats)
        for raw in read_fortune_entries(fortune_dir / name):
            stats.entries += 1
            text = clean_entry(raw, "en")
            self.add(stats, text, f"en:{prompt}" if prompt else None, prompt, text)

    def add_titled_poems(self, fortune_dir, name):
        """tang300 and song100: a title line, an author line, the poem. The SFT prompt asks for the poem by
        title and author; the answer is the poem without those two lines."""
        stats = SourceStats("fortunes-zh", name, "zh")
        self.stats.append(stats)
        for raw in read_fortune_entries(fortune_dir / name):
            stats.entries += 1
            text = clean_entry(raw, "zh")
            lines = text.split("\n")
            prompt = answer = None
            if len(lines) >= 3 and lines[1].startswith("作者"):
                title = re.sub(r"^题目\s*[:：]\s*", "", lines[0])
                author = re.sub(r"（[^）]*）$", "", re.sub(r"^作者\s*[:：]\s*", "", lines[1])).strip()
                if title.startswith("《") and author:
                    prompt = f"请背诵{author}的{title}。"
                    answer = "\n".join(lines[2:]).strip("\n")
            if text and prompt is None:
                stats.notes.append(f"entry {stats.entries}: no title and author lines, no SFT conversation")
            self.add(stats, text, name if prompt else None, prompt, answer)

    def add_chinese_sections(self, fortune_dir):
        raw_entries = read_fortune_entries(fortune_dir / "chinese")
        joined_entries = [" ".join(line.strip() for line in ANSI_ESCAPE.sub("", raw).split("\n")
                                   if line.strip()) for raw in raw_entries]
        starts = []
        for section in CHINESE_SECTIONS:
            matches = [i for i, joined in enumerate(joined_entries) if joined.startswith(section.anchor)]
            if len(matches) != 1 or (starts and matches[0] <= starts[-1]):
                fail(f"chinese: section anchor {section.anchor!r} found at entries {matches}; expected "
                     "exactly one, after the previous section (has fortunes-zh changed? review the sections)")
            starts.append(matches[0])
        if starts[0] != 0:
            fail("chinese: the first section does not start at the first entry")
        bounds = list(zip(starts, starts[1:] + [len(raw_entries)]))
        for section, (begin, end) in zip(CHINESE_SECTIONS, bounds):
            stats = SourceStats("fortunes-zh", f"chinese [{section.name}]", "zh")
            self.stats.append(stats)
            chapter = 0
            for raw in raw_entries[begin:end]:
                stats.entries += 1
                text = clean_entry(raw, "zh")
                if not section.include:
                    stats.excluded += 1
                    continue
                lines = text.split("\n")
                if any(author in lines[-1] for author in MODERN_CHINESE_AUTHORS):
                    stats.excluded += 1
                    stats.notes.append(f"left out (20th-century author): {lines[-1]}")
                    continue
                self.add(stats, text, *chinese_sft_rule(section, lines, chapter + 1))
                if section.sft_prompt and "{chapter}" in section.sft_prompt:
                    chapter += 1

    def select_english(self, ratio):
        """Keeps English documents, in hash order, while their bytes stay within ratio times the Chinese."""
        chinese_bytes = sum(len(d.text.encode("utf-8")) for d in self.documents if d.language == "zh")
        budget = ratio * chinese_bytes
        used = 0
        selected = []
        for document in sorted(self.documents, key=lambda d: sort_key(d.text)):
            if document.language == "en":
                size = len(document.text.encode("utf-8"))
                if used + size > budget:
                    document.stats.unselected += 1
                    continue
                used += size
            selected.append(document)
        for document in selected:
            document.stats.kept += 1
            document.stats.bytes += len(document.text.encode("utf-8"))
            document.stats.characters += len(document.text)
        return selected


def chinese_sft_rule(section, lines, chapter):
    """The SFT rule, prompt and answer for an entry of the `chinese` file (all None when it gives none)."""
    last_line = lines[-1]
    attributed = ANY_ATTRIBUTION.match(last_line) is not None
    body = "\n".join(lines[:-1]).strip("\n") if attributed else "\n".join(lines)
    poem = POEM_ATTRIBUTION.match(last_line)
    if poem and body:
        return "zh_poem", f"请引一段{poem.group('author')}《{poem.group('title')}》的原文。", body
    if section.sft_prompt and "{chapter}" in section.sft_prompt:
        return "daodejing", section.sft_prompt.format(chapter=chapter), body
    if attributed and "论语" in last_line and body:
        return "lunyu", "请引一段《论语》的原文。", body
    if attributed and section.sft_prompt and body:
        return f"zh_section:{section.name}", section.sft_prompt, body
    if len(lines) >= 3 and SHIJING_TITLE.match(lines[0]):
        title = re.sub(r"\s+", "", lines[0])
        return "shijing", f"请背诵{title}。", "\n".join(lines[1:]).strip("\n")
    titled = DYNASTY_AND_AUTHOR.match(lines[1]) if len(lines) >= 3 else None
    if titled and titled.group("author") != "佚名":
        return "zh_titled", f"请背诵{titled.group('author')}的《{lines[0]}》。", "\n".join(lines[2:]).strip("\n")
    return None, None, None


def sort_key(text):
    return hashlib.sha256((ORDER_SALT + text).encode("utf-8")).hexdigest()


def build_sft(documents):
    """Conversations made mechanically from the documents: a fixed question per source (a quotation on a
    file's topic, a named poem, a chapter), answered with the entry itself. Chosen in hash order, capped."""
    by_rule = {}
    for document in documents:
        if document.sft_rule and document.sft_answer and len(document.sft_answer) <= SFT_MAX_ANSWER_CHARS:
            by_rule.setdefault(document.sft_rule, []).append(document)
    conversations = []
    for rule in sorted(by_rule):
        limit = SFT_LIMITS[rule.split(":")[0]]
        for document in sorted(by_rule[rule], key=lambda d: sort_key(d.text))[:limit]:
            conversations.append((document, [
                {"role": "user", "content": document.sft_prompt},
                {"role": "assistant", "content": document.sft_answer},
            ]))
    conversations.sort(key=lambda item: sort_key(item[0].sft_prompt + "\n" + item[0].text))
    return conversations


def check_text(text, where):
    if CONTROL_CHARACTERS.search(text) or "\r" in text:
        fail(f"{where}: control character left in {text[:60]!r}")
    if PRIVATE_USE_CHARACTERS.search(text):
        fail(f"{where}: private-use character in {text[:60]!r}: add it to PRIVATE_USE_REPLACEMENTS")


def verify_jsonl(path, kind):
    """Reads a written file back: strict UTF-8, one JSON object per line of the expected shape, no control
    characters in any string other than newline and tab."""
    for number, line in enumerate(path.read_bytes().decode("utf-8").split("\n")[:-1], start=1):
        where = f"{path}:{number}"
        record = json.loads(line)
        if kind == "pretrain":
            if set(record) != {"text"} or not isinstance(record["text"], str) or not record["text"]:
                fail(f"{where}: expected {{\"text\": <non-empty string>}}")
            texts = [record["text"]]
        else:
            turns = record.get("conversations")
            if set(record) != {"conversations"} or [t.get("role") for t in turns] != ["user", "assistant"]:
                fail(f"{where}: expected a user turn and an assistant turn")
            texts = [turn["content"] for turn in turns]
        for text in texts:
            check_text(text, where)


def write_jsonl(path, records):
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return len(data), hashlib.sha256(data).hexdigest()


def print_summary(builder, outputs, sft_counts):
    print(f"{'source':52s} {'entries':>7s} {'empty':>5s} {'excl':>5s} {'dups':>5s} {'unsel':>5s} "
          f"{'kept':>6s} {'bytes':>9s} {'chars':>9s}")
    totals = {}
    for stats in builder.stats:
        print(f"{stats.package + '/' + stats.name:52s} {stats.entries:7d} {stats.empty:5d} "
              f"{stats.excluded:5d} {stats.duplicates:5d} {stats.unselected:5d} {stats.kept:6d} "
              f"{stats.bytes:9d} {stats.characters:9d}")
        total = totals.setdefault(stats.language, [0, 0, 0])
        total[0] += stats.kept
        total[1] += stats.bytes
        total[2] += stats.characters
        for note in stats.notes:
            print(f"    {note}")
    all_bytes = sum(total[1] for total in totals.values())
    all_characters = sum(total[2] for total in totals.values())
    print()
    for language, (kept, size, characters) in sorted(totals.items()):
        print(f"{language}: {kept} documents, {size} bytes ({100 * size / all_bytes:.1f}%), "
              f"{characters} characters ({100 * characters / all_characters:.1f}%)")
    all_documents = sum(total[0] for total in totals.values())
    print(f"all: {all_documents} documents, {all_bytes} bytes, {all_characters} characters")
    print("sft conversations: " + ", ".join(f"{key} {n}" for key, n in sorted(sft_counts.items())))
    for name, (size, digest) in outputs.items():
        print(f"{name}: {size} bytes, sha256 {digest}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fortune_dir", type=Path, default=DEFAULT_FORTUNE_DIR,
                        help="where the fortune files are installed (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT_DIR,
                        help="output directory (default: resources/corpus/default)")
    args = parser.parse_args()

    check_packages(args.fortune_dir)
    builder = CorpusBuilder()
    for package, name, prompt in ENGLISH_FILES:
        builder.add_english_file(args.fortune_dir, package, name, prompt)
    builder.add_titled_poems(args.fortune_dir, "tang300")
    builder.add_titled_poems(args.fortune_dir, "song100")
    builder.add_chinese_sections(args.fortune_dir)

    documents = builder.select_english(ENGLISH_TO_CHINESE_BYTES)  # in hash order
    conversations = build_sft(documents)
    for document in documents:
        check_text(document.text, document.stats.name)
    for document, turns in conversations:
        for turn in turns:
            check_text(turn["content"], document.stats.name)

    args.out.mkdir(parents=True, exist_ok=True)
    outputs = {
        "pretrain.jsonl": write_jsonl(args.out / "pretrain.jsonl", ({"text": d.text} for d in documents)),
        "sft.jsonl": write_jsonl(args.out / "sft.jsonl",
                                 ({"conversations": turns} for _, turns in conversations)),
    }
    if not GPL_3_TEXT.is_file():
        fail(f"{GPL_3_TEXT} not found (Debian's base-files installs it)")
    shutil.copyfile(GPL_3_TEXT, args.out / "GPL-3.0.txt")
    outputs["GPL-3.0.txt"] = (GPL_3_TEXT.stat().st_size, hashlib.sha256(GPL_3_TEXT.read_bytes()).hexdigest())
    verify_jsonl(args.out / "pretrain.jsonl", "pretrain")
    verify_jsonl(args.out / "sft.jsonl", "sft")
    sft_counts = {}
    for document, _ in conversations:
        for key in (document.language, "rule " + document.sft_rule.split(":")[0]):
            sft_counts[key] = sft_counts.get(key, 0) + 1
    print_summary(builder, outputs, sft_counts)


if __name__ == "__main__":
    main()
