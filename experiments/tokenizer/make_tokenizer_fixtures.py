#!/usr/bin/env python3
"""Reference encodings of the MiniMind tokenizer by Hugging Face tokenizers, for the C++ tokenizer's tests.

Encodes a wide set of texts (Chinese classical and modern, English, code, emoji, many scripts, whitespace
runs, contractions, numbers, special tokens in text and near-misses of them, seeded random Unicode) with
tokenizer.json and writes tests/fixtures/tokenizer/minimind_encodings.json:
  encodings:         text -> ids, and decode(ids)
  decodings:         id sequences that cut characters apart (and skip_special_tokens) -> decode's lossy text
  single_token_text: decode([id]) for every id
  variants:          the same tokenizer with add_prefix_space, ignore_merges, or extra added tokens with
                     lstrip / rstrip / single_word / normalized set -> ids
  code_point_classes: how the pre-tokenizer classes every code point (L letter, N number, S space, O other),
                     as runs [first code point, class], probed through pre_tokenize_str

Usage (needs the `tokenizers` package; the tests themselves do not):
  python3 experiments/tokenizer/make_tokenizer_fixtures.py \
      [--tokenizer ../shared/reference/minimind-tokenizer/tokenizer.json] [--out tests/fixtures/tokenizer/...]
"""
import argparse
import json
import os
import random
import re

import tokenizers
from tokenizers import AddedToken, Tokenizer, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TOKENIZER = os.path.join(ROOT, "..", "shared", "reference", "minimind-tokenizer", "tokenizer.json")
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "minimind_encodings.json")
TANG_POEMS = "/usr/share/games/fortunes/tang300"  # Debian fortunes-zh: Tang poems (public domain texts)

CLASSICAL_CHINESE = [
    "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？人不知而不愠，不亦君子乎？",
    "道可道，非常道；名可名，非常名。无名天地之始，有名万物之母。",
    "天行健，君子以自强不息。地势坤，君子以厚德载物。",
    "关关雎鸠，在河之洲。窈窕淑女，君子好逑。",
    "北冥有鱼，其名为鲲。鲲之大，不知其几千里也；化而为鸟，其名为鹏。",
    "大学之道，在明明德，在亲民，在止于至善。",
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "明月几时有？把酒问青天。不知天上宫阙，今夕是何年。",
    "臣本布衣，躬耕于南阳，苟全性命于乱世，不求闻达于诸侯。",
    "古之学者必有师。师者，所以传道受业解惑也。",
]

MODERN_CHINESE = [
    "今天天气很好，我们一起去公园散步吧。",
    "人工智能正在改变我们的生活方式，从语音助手到自动驾驶汽车。",
    "这个模型只有两千六百万个参数，却能够进行简单的对话。",
    "请把文件保存到“文档”文件夹中，然后重新启动电脑。",
    "北京时间2024年3月15日上午10点30分，会议正式开始。",
    "他说：“我明天不来了。”她回答：“好的，没问题！”",
    "机器学习（Machine Learning）是人工智能的一个分支。",
    "价格：￥199.00（含税），数量：３件，合计：￥597.00。",
    "《红楼梦》是中国古典四大名著之一，作者曹雪芹。",
    "你好！很高兴认识你😊，有什么可以帮你的吗？",
    "繁體中文與簡體中文的轉換並不總是一一對應的。",
    "第一章　总则\n第一条　为了规范管理，制定本办法。",
]

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you doing today?",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "To be, or not to be, that is the question.",
    "Machine learning models are trained on large amounts of data, and they learn patterns.",
    "She sells sea-shells by the sea-shore; the shells she sells are surely sea-shells.",
    "In 1969, Apollo 11 landed on the Moon. Neil Armstrong was the first person to walk on it.",
    "Dr. Smith's office (Room 42B) opens at 9:30 a.m. -- please don't be late!",
    "E-mail: someone@example.com, URL: https://www.example.org/path?query=1&x=y#frag",
    "ALL CAPS TEXT SHOULD ALSO BE TOKENIZED CORRECTLY, INCLUDING NUMBERS LIKE 123.",
    "    Indented line with trailing spaces    ",
    "Multiple\nlines\nof\ntext\n\nwith a blank line.",
]

CODE = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "import numpy as np\nx = np.zeros((3, 4), dtype=np.float32)\nprint(x.shape)  # (3, 4)\n",
    "class Stack:\n\tdef __init__(self):\n\t\tself.items = []\n\n\tdef push(self, item):\n\t\tself.items.append(item)\n",
    "#include <iostream>\n\nint main() {\n  std::cout << \"Hello\" << std::endl;\n  return 0;\n}\n",
    "template <typename T>\nT max(const T& a, const T& b) { return a < b ? b : a; }\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }  // dot product",
    '{"name": "minimind", "vocab_size": 6400, "layers": [1, 2, 3], "nested": {"a": null, "b": true}}',
    '{\n  "model_type": "minimind",\n  "hidden_size": 512,\n  "rope_theta": 1000000.0\n}',
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
    "<html><body><p class=\"x\">Hello &amp; welcome</p></body></html>",
    "$ cmake -S . -B build -G Ninja && ninja -C build -j2 2>&1 | tee log.txt",
    "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n",
    "x = lambda a, b: (a ** 2 + b ** 2) ** 0.5\nassert x(3, 4) == 5.0\n",
]

EMOJI = [
    "😀😃😄😁😆😅😂🤣",
    "👨‍👩‍👧‍👦 family, 👩‍💻 technologist, 🏳️‍🌈 rainbow flag",
    "🇨🇳🇺🇸🇯🇵🇰🇷🇫🇷🇩🇪 flags",
    "👍🏻👍🏼👍🏽👍🏾👍🏿 skin tones",
    "1️⃣ 2️⃣ #️⃣ *️⃣ keycaps",
    "❤️ ♥ ☺️ ✌️ variation selectors",
    "I love 🍕 and 🍣! 🎉🎉🎉",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland tag sequence",
    "🧑🏽‍🤝‍🧑🏿 people holding hands",
]

SCRIPTS = [
    "مرحبا بالعالم! هذا نص عربي مع أرقام ١٢٣٤٥.",
    "שלום עולם, זהו טקסט בעברית.",
    "नमस्ते दुनिया! यह हिंदी में एक वाक्य है।",
    "Привет, мир! Это предложение на русском языке.",
    "Γειά σου Κόσμε! Αυτή είναι μια ελληνική πρόταση.",
    "こんにちは世界！カタカナとひらがなと漢字。",
    "안녕하세요, 세계! 한국어 문장입니다.",
    "สวัสดีชาวโลก นี่คือประโยคภาษาไทย",
    "გამარჯობა მსოფლიო",
    "Բարեւ աշխարհ",
    "வணக்கம் உலகம்",
    "ሰላም ዓለም",
    "Tiếng Việt có dấu: Xin chào thế giới, cảm ơn bạn.",
    "Zalgo: Z̷̢̛a̸̡͊l̵̰͝g̶̣̈o̴̱͐ text with combining marks",
    "Mixed: English 中文 日本語 한국어 العربية हिन्दी Русский",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ ａｎｄ ｄｉｇｉｔｓ １２３",
    "Ligatures ﬁ ﬂ and math 𝔾𝕠𝕠𝕕 𝕞𝕠𝕣𝕟𝕚𝕟𝕘 𝐁𝐨𝐥𝐝",
]

WHITESPACE = [
    "", " ", "  ", "\n", "\n\n", "\t", "\r\n", " \n ", "\t\t\tx", "x   ", "   x", "a  b   c    d",
    "line one\r\nline two\r\n", "trailing newline\n", "\n\nleading newlines",
    "tabs\tbetween\twords", "mixed \t \n whitespace \r\n\t end",
    "ideographic\u3000space\u3000\u3000here", "no\u00a0break\u00a0space", "en\u2002em\u2003thin\u2009spaces",
    "next\u0085line", "mongolian\u180evowel separator", "zero\u200bwidth\u200bspace", "bom\ufeffinside",
    "line\u2028separator\u2029paragraph", "narrow\u202fnbsp and\u205fmath space",
    " " * 40 + "x", "x" + " " * 33, "\n" * 12, " \t" * 10, "a\n \n b", "end with spaces then newline   \n",
    "中文\u3000空格", "\u00a0\u00a0leading nbsp",
]

CONTRACTIONS = [
    "It's, they're, we've, I'm, you'll, he'd, don't, can't, won't.",
    "IT'S, THEY'RE, WE'VE, I'M, YOU'LL, HE'D, DON'T.",
    "She'S and he'LL and they'Re mixed case.",
    "'s 't 're 've 'm 'll 'd at the start",
    "the dog's bone, the dogs' bones, rock 'n' roll",
    "curly apostrophes: it’s they’re we’ve",
    "''quoted'' and '''triple''' and 'single'",
    "l'homme, aujourd'hui, c'est la vie",
    "'''",
    "x's'y",
]

NUMBERS = [
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 10000 123456789",
    "3.14159265358979 2.71828 -42 +17 1e-5 6.02e23",
    "1,000,000 and 1.000.000 and 1 000 000",
    "Phone: +86 138-0013-8000, ZIP 100080",
    "①②③ ⅠⅡⅢⅻ ²³¹ ½¼¾ ٠١٢٣ ०१२३ ๑๒๓ 〇一二三",
    "2024-01-01T12:34:56Z",
    "v1.2.3-rc.4+build.5",
    "0x1F600 0b1010 0o777",
    "1234567890" * 5,
]

SPECIAL = [
    "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n你好！有什么可以帮你？<|im_end|>\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    "<|im_start|>assistant\n",
    "<|endoftext|>",
    "text<|endoftext|>more text<|endoftext|>",
    "<|im_end|><|im_start|>",
    "<|im_start|><|im_start|><|im_end|><|im_end|>",
    " <|im_start|> spaces around <|im_end|> ",
    "<think>\n推理过程\n</think>\n\n答案",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
    "<tool_response>ok</tool_response>",
    "<|object_ref_start|>x<|object_ref_end|><|box_start|>(1,2)<|box_end|>",
    "<|vision_start|><|image_pad|><|vision_end|><|video_pad|><|audio_start|><|audio_pad|><|audio_end|>",
    "<tts_pad><tts_text_bos><tts_text_eod><tts_text_bos_single>",
    "<|buffer1|><|buffer2|><|buffer3|><|buffer9|>",
    "<|quad_start|><|quad_end|><|vision_pad|>",
    "\n<|im_start|>\n",
    "abc<|im_end|>def",
    "你<|im_end|>好",
    "😀<|endoftext|>😀",
]

NEAR_MISSES = [
    "<|im_start", "<|im_end|x", "<|im_end", "|im_end|>", "<|IM_START|>", "< |im_start|>",
    "<<|im_start|>>", "<|im_start|im_end|>", "<|endoftext|", "<|endoftext||>", "<|im_start |>",
    "<think", "<think>>", "</think", "<thinking>", "<|buffer10|>", "<|buffer0|>", "<tool_call/>",
    "<|im_st<|im_start|>art|>", "<|im_end|<|im_end|>", "<|<|im_start|>|>", "<<<|||>>>",
]

NEWER_UNICODE = [
    "CJK extension H \U00031350\U00031351 and I \U0002EBF0\U0002EBF1",
    "Todhri \U000105C0\U000105C1 Garay \U00010D4A\U00010D40 Kawi \U00011F04\U00011F50",
    "Latin additions \ua7cb\ua7cc\ua7da and Cyrillic \u1c89\u1c8a",
    "Egyptian \U00013460\U00013461 Kirat Rai \U00016D40\U00016D70",
]

CONTROL = [
    "null\x00byte", "escape \x1b[31mred\x1b[0m", "del\x7fchar", "bell\x07 and backspace\x08",
    "\x01\x02\x03\x04\x05", "form\x0cfeed and vertical\x0btab",
    "private use \ue000\uf8ff\U000f0000", "noncharacters \ufffe\uffff\U0010ffff",
    "replacement char \ufffd itself",
]


def tang_poems(count):
    """The first `count` poems of the Tang 300, without the terminal colour codes around the titles."""
    if not os.path.exists(TANG_POEMS):
        return []
    with open(TANG_POEMS, encoding="utf-8") as f:
        entries = f.read().split("\n%\n")
    return [re.sub(r"\x1b\[[0-9;]*m", "", entry).strip() for entry in entries[:count]]


def random_texts(rng):
    ranges = [
        (0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F),
        (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2190, 0x23FF), (0x3000, 0x30FF),
        (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0xFE00, 0xFFFF), (0x10000, 0x1FFFF),
        (0x1F300, 0x1FAFF), (0x20000, 0x323AF), (0xE0000, 0xE01EF), (0x10FF00, 0x10FFFF),
    ]
    texts = []
    for i in range(48):
        length = rng.choice([5, 20, 60, 150, 400])
        chars = []
        for _ in range(length):
            roll = rng.random()
            if roll < 0.15:
                chars.append(rng.choice(" \t\n\r\u3000\u00a0"))
            elif roll < 0.25:
                chars.append(rng.choice("'sStTrRevmld0123456789"))
            else:
                lo, hi = rng.choice(ranges)
                cp = rng.randint(lo, hi)
                if 0xD800 <= cp <= 0xDFFF:
                    cp = 0xFFFD
                chars.append(chr(cp))
        texts.append("".join(chars))
    # Random texts from the pieces that matter most to the regex: letters, digits, apostrophes, spaces.
    alphabet = ["a", "Z", "中", "é", "1", "٣", "'", "s", "ll", " ", "  ", "\n", "\t", "!", "😀", "\u3000", "<|im_end|>"]
    for i in range(24):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.choice([10, 40, 120]))))
    return texts


def long_texts():
    return [
        " " * 300,
        "a" * 500,
        "中" * 300,
        "9" * 400,
        "!?" * 150,
        "\n" * 200 + "end",
        "word " * 100,
        "你好世界" * 60,
        "🙂" * 100,
    ]


def all_texts(rng):
    texts = (CLASSICAL_CHINESE + tang_poems(25) + MODERN_CHINESE + ENGLISH + CODE + EMOJI + SCRIPTS + WHITESPACE +
             CONTRACTIONS + NUMBERS + SPECIAL + NEAR_MISSES + NEWER_UNICODE + CONTROL + long_texts())
    texts += random_texts(rng)
    seen = set()
    unique = []
    for text in texts:
        if text not in seen:
            seen.add(text)
            unique.append(text)
    return unique


def decodings(tokenizer, texts, rng):
    """Id sequences cut at arbitrary places (splitting multi-byte characters) and with special tokens skipped."""
    cases = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        if len(ids) < 2:
            continue
        for _ in range(2):
            begin = rng.randrange(0, len(ids))
            end = rng.randrange(begin + 1, len(ids) + 1)
            part = ids[begin:end]
            cases.append({"ids": part, "skip_special_tokens": False, "text": tokenizer.decode(part, skip_special_tokens=False)})
        if any(i < 36 for i in ids):
            cases.append({"ids": ids, "skip_special_tokens": True, "text": tokenizer.decode(ids, skip_special_tokens=True)})
    # Byte tokens in orders that make every kind of invalid sequence.
    byte_level = {bytes([b]): tokenizer.token_to_id(_byte_char(b)) for b in range(256)}
    for _ in range(60):
        raw = bytes(rng.choice([rng.randrange(256), rng.choice([0xE4, 0xF0, 0x9F, 0x80, 0xBF, 0xC3, 0xED, 0xA0, 0x41])])
                    for _ in range(rng.randrange(1, 9)))
        part = [byte_level[bytes([b])] for b in raw]
        cases.append({"ids": part, "skip_special_tokens": False, "text": tokenizer.decode(part, skip_special_tokens=False)})
    # Ids outside the vocabulary are left out.
    cases.append({"ids": [65, 999999, 66], "skip_special_tokens": False, "text": tokenizer.decode([65, 999999, 66], skip_special_tokens=False)})
    return cases


def _byte_char(b):
    """GPT-2's bytes_to_unicode for one byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    if b in printable:
        return chr(b)
    return chr(256 + [x for x in range(256) if x not in printable].index(b))


def code_point_classes():
    """Runs of [first code point, class] over all code points, probed through the ByteLevel pre-tokenizer:
    "a" + c + "1" keeps c with the letter (L) or the digit (N); otherwise c + "!" is one piece for other
    characters (O) and two for spaces (S). Surrogates, which no text can hold, are left as O."""
    pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)

    def pieces(s):
        return [p for p, _ in pre_tokenizer.pre_tokenize_str(s)]

    runs = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            cls = "O"
        elif cp == 0x20:
            cls = "S"  # the probe would join it to the digit
        else:
            c = chr(cp)
            first = pieces("a" + c + "1")
            if len(first) == 2:
                cls = "L" if first[1] == "1" else "N"
            else:
                cls = "O" if len(pieces(c + "!")) == 1 else "S"
        if not runs or runs[-1][1] != cls:
            runs.append([cp, cls])
    return runs


def variant(base_json, texts, name, edit):
    data = json.loads(base_json)
    extra_added = edit(data)
    tokenizer = Tokenizer.from_str(json.dumps(data))
    if extra_added:
        tokenizer.add_tokens(extra_added)
        added = json.loads(tokenizer.to_str())["added_tokens"]
        extra = [entry for entry in added if entry["id"] >= 6400]
    else:
        extra = []
    cases = [{"text": t, "ids": tokenizer.encode(t).ids} for t in texts]
    return {"name": name, "pre_tokenizer_add_prefix_space": data["pre_tokenizer"]["add_prefix_space"],
            "model_ignore_merges": data["model"]["ignore_merges"], "extra_added_tokens": extra, "cases": cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()

    rng = random.Random(20240601)
    with open(args.tokenizer, encoding="utf-8") as f:
        base_json = f.read()
    tokenizer = Tokenizer.from_str(base_json)
    texts = all_texts(rng)
    encodings = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        encodings.append({"text": text, "ids": ids, "decoded": tokenizer.decode(ids, skip_special_tokens=False)})

    variant_texts = ENGLISH[:6] + MODERN_CHINESE[:3] + SPECIAL[:3] + WHITESPACE[:12] + CONTRACTIONS[:3] + [
        "Hi <mask> there\t<mask>\t<mask>\u2000 end", "a<mask>b <mask>, <mask>- x<mask>", "<mask><mask>",
        "say hello world twice: hello world", "hello worldly", "[SEP][SEP] and [sep]", "  [SEP]  ",
        "<|im_start|>user\nhello world<|im_end|>", "Ġhello", "ĠĠ  spaced"]

    def add_prefix_space(data):
        data["pre_tokenizer"]["add_prefix_space"] = True

    def ignore_merges(data):
        data["model"]["ignore_merges"] = True

    def extra_tokens(data):
        return [AddedToken("<mask>", single_word=True, lstrip=True, rstrip=True, normalized=False, special=True),
                AddedToken("hello world", normalized=True, special=False),
                AddedToken("[SEP]", lstrip=False, rstrip=True, normalized=True, special=False),
                AddedToken("Ġhello", normalized=False, special=False)]

    fixture = {
        "about": "Reference encodings of the MiniMind tokenizer by Hugging Face tokenizers; "
                 "written by experiments/tokenizer/make_tokenizer_fixtures.py",
        "tokenizers_version": tokenizers.__version__,
        "encodings": encodings,
        "decodings": decodings(tokenizer, texts, rng),
        "single_token_text": [tokenizer.decode([i], skip_special_tokens=False) for i in range(tokenizer.get_vocab_size())],
        "variants": [variant(base_json, variant_texts, "add_prefix_space", add_prefix_space),
                     variant(base_json, variant_texts, "ignore_merges", ignore_merges),
                     variant(base_json, variant_texts, "extra_added_tokens", extra_tokens)],
        "code_point_classes": code_point_classes(),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"{args.out}: {len(encodings)} encodings, {len(fixture['decodings'])} decodings, "
          f"{os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
