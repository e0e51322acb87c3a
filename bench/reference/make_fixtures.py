#!/usr/bin/env python3
"""Write llama.cpp reference fixtures for troupe's tokenizer and forward pass.

Run with the peer venv's python (bench/peers/setup builds it):

    source bench/peers/env
    $PEER_PYTHON bench/reference/make_fixtures.py [--model PATH] [--out DIR]

Outputs (deterministic: same inputs -> same bytes):
  DIR/tokenize.json  llama.cpp token ids for >= 200 strings, each with
                     (add_special, parse_special) = (True, True) and (False, False)
  DIR/logits.json    teacher-forced top-1 / top-5 log-probs for >= 20 prompts x 64 positions
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import random
import sys

import numpy as np
import llama_cpp
from llama_cpp import Llama

DEFAULT_MODEL = os.path.join(
    os.environ.get("TROUPE_HOME", os.path.expanduser("~/.cache/troupe")),
    "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "reference")

N_CTX = 512
N_THREADS = 2
N_IDS = 65  # ids per logits prompt; positions 0..63 each predict the next id

# --------------------------------------------------------------------------- tokenizer strings

FIXED = [
    # empty, single characters
    "", " ", "a", "A", "Z", "0", "9", ".", ",", "!", "?", "'", '"', "\n", "\t", "\r", "\\", "#",
    "é", "ß", "ñ", "中", "日", "ا", "अ", "Ж", "😀", "€", "©", "\u00a0", "\u200b", "\ufeff",
    # ASCII prose
    "Hello world",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness.",
    "Once upon a time, in a land far, far away, there lived a small dragon who loved tea.",
    "Please summarize the following paragraph in one sentence.",
    "What is the capital of France? Answer: Paris.",
    "e.g. i.e. etc. Mr. Smith vs. Dr. Jones, U.S.A., a.m./p.m.",
    "Title Case Words And ALL CAPS WORDS and lowercase words",
    "camelCaseIdentifier snake_case_identifier SCREAMING_SNAKE kebab-case-id PascalCase",
    # contractions
    "I'm you're he's she's it's we've they'll I'd won't can't shouldn't",
    "I'M YOU'RE HE'S IT'S WE'VE THEY'LL I'D WON'T CAN'T",
    "It'S We'Re They'Ve I'Ll He'D",
    "don't do that, 'cause it's y'all's fault",
    "the dog's bone, the dogs' bones, rock'n'roll, o'clock",
    "'s 't 're 've 'm 'll 'd",
    "'S 'T 'RE 'VE 'M 'LL 'D",
    "I\u2019m fine, it\u2019s ok (curly apostrophes)",
    # whitespace runs
    "  two leading spaces", "trailing spaces   ", "   ", "\t\t", "\n\n", "\n\n\n\n",
    " \n \n ", "\t \t \n", "a  b   c    d     e", "line1\nline2\r\nline3\rline4",
    "indented:\n    four\n        eight\n\ttab", "word\u3000ideographic space",
    " " * 17, "\n" * 9, "\t" * 5 + "x", "x" + " " * 40 + "y", "\r\n\r\n", " leading", "trailing ",
    # numbers
    "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
    "3.14159", "-42", "+7", "1,000,000", "1.000.000,50", "1_000_000", "0x1F3A", "0b1011",
    "1e-9", "6.022e23", "2024-01-15", "12:34:56", "$19.99", "€5,50", "50%", "3/4", "v1.2.3",
    "+1 (555) 123-4567", "192.168.0.1", "phone 0049 30 123456",
    "٠١٢٣٤٥٦٧٨٩", "१२३४", "１２３",
    # punctuation runs
    "...", "!!!", "?!?!", "---", "***", "===", "<<<>>>", "((()))", "[[]]{{}}",
    "!@#$%^&*()_+-=[]{}|;':\",./<>?`~", "—–-", "«»„“”‘’", "…", "::", "->", "=>", "!==", "&&||",
    # code
    "def f(x):\n    return x * 2\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); return 0; }",
    "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}",
    "const add = (a, b) => a + b; // arrow fn\nconsole.log(add(1, 2));",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
    "<div class=\"box\"><p>Hello &amp; welcome</p></div>",
    "{\"key\": [1, 2.5, true, null], \"nested\": {\"a\": \"b\"}}",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}",
    "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done",
    "template <typename T> auto sq(T x) -> T { return x * x; }",
    "x = [i**2 for i in range(10) if i % 2 == 0]",
    "% LaTeX\n\\begin{equation} E = mc^2 \\end{equation}",
    "    if (ptr != nullptr && ptr->next) { ptr = ptr->next; }",
    # URLs, emails, paths
    "https://www.example.com/path/to/page?query=1&b=two#frag",
    "http://localhost:8080/v1/chat/completions",
    "mailto:someone@example.org", "user.name+tag@sub.domain.co.uk",
    "/usr/local/bin/troupe --model ~/.cache/troupe/models/x.gguf", "C:\\Windows\\System32\\drivers",
    # CJK
    "你好，世界！", "我爱自然语言处理。", "日本語のテキストです。カタカナとひらがな。",
    "東京は日本の首都です", "한국어 문장입니다. 안녕하세요!", "繁體中文與简体中文",
    # other scripts
    "مرحبا بالعالم", "السلام عليكم ورحمة الله", "नमस्ते दुनिया", "हिन्दी भाषा बहुत सुंदर है",
    "Привет, мир!", "Съешь же ещё этих мягких французских булок", "Γειά σου Κόσμε",
    "שלום עולם", "สวัสดีชาวโลก", "Xin chào thế giới", "Türkçe: ğüşıöç İstanbul",
    "Ελληνικά και English μαζί", "ქართული ენა", "Հայերեն", "தமிழ் மொழி", "বাংলা ভাষা",
    # emoji
    "😀😃😄", "👍", "👍🏻👍🏼👍🏽👍🏾👍🏿", "👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈", "🇺🇸🇯🇵🇩🇪",
    "❤️", "I ❤️ NY", "🤦🏽‍♀️ facepalm", "1️⃣2️⃣3️⃣", "🧑🏿‍🚀 astronaut", "emoji at end 🎉",
    # special tokens and near misses
    "<|im_start|>", "<|im_end|>", "<|endoftext|>",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n",
    "text<|endoftext|>more text", "<|im_start|><|im_end|><|endoftext|>",
    "<|im_start", "im_start|>", "<|im_end", "<im_start>", "< |im_start| >", "<|IM_START|>",
    "<|endoftext", "<|endoftext|", "<<|im_end|>>", "<|im_start|>>", "|<|im_end|>|",
    "<|unknown_token|>", "<s></s>", "[INST] hi [/INST]",
    # long words
    "Donaudampfschifffahrtsgesellschaftskapitän",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious" * 3,
    "a" * 100, "ab" * 60, "abcdefghijklmnopqrstuvwxyz" * 4, "=" * 80, "-" * 33,
    # mixed scripts
    "Hello 世界 مرحبا мир नमस्ते 🌍", "iPhone15とGalaxyS24の比较", "abc中文def日本語ghi",
    "Ж1Ж2Ж3", "x²+y²=z² ∑∫√∞≠≈", "α β γ δ ε → ∀x∃y",
    # combining marks, normalization-sensitive
    "e\u0301", "\u00e9", "Cafe\u0301 vs Caf\u00e9", "n\u0303", "a\u0300\u0301\u0302\u0303\u0304",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334a\u0333l\u0330g\u0347o",
    "\u0915\u094d\u0937", "\u1100\u1161\u11a8", "ﬁ ﬂ ﬀ (ligatures)", "Ａ Ｂ Ｃ (fullwidth)",
    # valid UTF-8 that looks odd
    "\ufffd", "\ufffd\ufffd", "\uffff", "\U0010ffff", "\ue000\uf8ff", "\U0001d54f\U0001d568",
    "\u202eRTL override", "\u2028line sep\u2029para sep", "a\u0000b", "\u0007bell\u001b[0m",
    "\\xc0\\x80 (escaped, not raw)", "\u00c3\u00a9 (mojibake of é)", "\U0001f600\u200d\U0001f600",
    "\u0301 leading combining mark", "\ud7ff\ue000",
]

POOLS = {
    "word": ["the", "The", "model", "tokens", "quick", "HELLO", "naïve", "straße", "東京", "Москва",
             "مرحبا", "हिंदी", "🙂", "👩🏾‍🔬", "don't", "I'LL", "we've", "it's", "<|im_end|>",
             "<|im_start", "<|endoftext|>", "foo_bar", "fooBar", "x86_64", "https://t.co/x",
             "ǅ", "ﬃ", "\u00a0", "e\u0301", "🇫🇷"],
    "num": ["0", "7", "42", "314", "2048", "65536", "1000000", "3.5", "-1", "1,234", "99.999%",
            "123456789012"],
    "punct": [".", ",", "!", "?", "...", "--", "()", "[]", "{}", "::", ";", "'", '"', "/", "\\",
              "&", "@", "#", "*", "~", "`", "|", "<>", "=>"],
    "space": [" ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\t\t", "\r\n", "\u3000"],
}


def generated(n: int, seed: int = 20240601) -> list[str]:
    rng = random.Random(seed)
    kinds = list(POOLS)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            kind = rng.choice(kinds)
            parts.append(rng.choice(POOLS[kind]))
            if kind != "space" and rng.random() < 0.6:
                parts.append(" ")
        s = "".join(parts)
        r = rng.random()
        if r < 0.1:
            s = " " + s
        elif r < 0.2:
            s = s + " "
        out.append(s)
    return out


def tokenizer_strings() -> list[str]:
    seen, out = set(), []
    for s in FIXED + generated(110):
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out

# --------------------------------------------------------------------------- logits prompts

def chatml(system: str | None, turns: list[tuple[str, str]], gen: bool = True) -> str:
    s = ""
    if system is not None:
        s += f"<|im_start|>system\n{system}<|im_end|>\n"
    for role, text in turns:
        s += f"<|im_start|>{role}\n{text}<|im_end|>\n"
    if gen:
        s += "<|im_start|>assistant\n"
    return s


PROMPTS = [
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based ink and a wooden press adapted from wine making. "
    "Within fifty years, presses had spread to more than two hundred cities across Europe, and "
    "the cost of books fell so sharply that reading became a habit of merchants and artisans.",

    "Photosynthesis is the process by which green plants, algae and some bacteria convert light "
    "energy into chemical energy. In the chloroplasts, chlorophyll absorbs sunlight, water is "
    "split into oxygen, protons and electrons, and carbon dioxide is fixed into sugars through "
    "the Calvin cycle. Almost all life on Earth depends on it, directly or indirectly, because "
    "it supplies both the oxygen we breathe and the food at the base of every food chain.",

    chatml("You are a helpful AI assistant named SmolLM, trained by Hugging Face",
           [("user", "Can you explain what a hash table is, and when I should use one instead "
                     "of a sorted array? Please keep it short, give one concrete example from a real "
                     "program, and mention what happens to lookups when the table gets full.")]),

    chatml("You are a concise assistant.",
           [("user", "What is the boiling point of water at sea level?"),
            ("assistant", "It is 100 degrees Celsius, or 212 degrees Fahrenheit."),
            ("user", "And on the top of Mount Everest? Explain why it differs.")]),

    chatml(None, [("user", "Write a haiku about autumn leaves falling into a quiet river, then "
                           "explain the imagery you chose in two or three sentences, and "
                           "finally suggest a title for it. Keep the whole answer under one hundred words, "
                           "and avoid using the words red, gold or fall anywhere in the poem.")]),

    "def fibonacci(n: int) -> list[int]:\n"
    "    \"\"\"Return the first n Fibonacci numbers.\"\"\"\n"
    "    result = []\n"
    "    a, b = 0, 1\n"
    "    for _ in range(n):\n"
    "        result.append(a)\n"
    "        a, b = b, a + b\n"
    "    return result\n\n\n"
    "if __name__ == \"__main__\":\n"
    "    print(fibonacci(10))\n",

    "#include <iostream>\n#include <vector>\n\nint main() {\n"
    "    std::vector<int> values{3, 1, 4, 1, 5, 9, 2, 6};\n"
    "    int total = 0;\n"
    "    for (int v : values) {\n"
    "        total += v;\n"
    "    }\n"
    "    std::cout << \"sum = \" << total << std::endl;\n"
    "    return 0;\n}\n",

    "function debounce(fn, wait) {\n  let timer = null;\n  return function (...args) {\n"
    "    clearTimeout(timer);\n    timer = setTimeout(() => fn.apply(this, args), wait);\n"
    "  };\n}\n\nconst onResize = debounce(() => console.log(window.innerWidth), 200);\n",

    "Shopping list for the weekend:\n"
    "1. Two loaves of sourdough bread\n"
    "2. A dozen free-range eggs\n"
    "3. Fresh basil, tomatoes and mozzarella\n"
    "4. Olive oil (extra virgin)\n"
    "5. Coffee beans, medium roast\n"
    "6. Dark chocolate, at least 70% cocoa\n"
    "7. Sparkling water\n",

    "Key points from the meeting:\n"
    "- The release is moved to March 14 because the load tests failed.\n"
    "- Alice will profile the attention kernel and report back on Friday.\n"
    "- Bob owns the migration of the metrics dashboard.\n"
    "- We agreed to freeze the public API until after the release.\n"
    "- Next sync: Tuesday at 10:00.\n",

    "La Révolution française est une période de bouleversements politiques et sociaux en France "
    "qui commence en 1789 et se termine à la fin du siècle. Elle met fin à l'Ancien Régime, "
    "proclame la Déclaration des droits de l'homme et du citoyen et transforme durablement "
    "les institutions du pays.",

    "Der Schwarzwald ist ein Mittelgebirge im Südwesten Deutschlands. Er ist bekannt für seine "
    "dichten Wälder, die Kuckucksuhren und die Schwarzwälder Kirschtorte. Jedes Jahr besuchen "
    "Millionen von Touristen die Region, um zu wandern, Rad zu fahren oder sich zu erholen.",

    "El aprendizaje automático es una rama de la inteligencia artificial que permite a las "
    "computadoras aprender a partir de datos sin ser programadas explícitamente. Se utiliza en "
    "el reconocimiento de voz, la traducción automática y los sistemas de recomendación.",

    "Q: If a train leaves the station at 3:15 pm and travels at 80 km/h for 2 hours and 45 "
    "minutes, what time does it arrive and how far has it gone?\n"
    "A: Let's think step by step. The travel time is 2 hours and 45 minutes, which is 2.75 "
    "hours. The distance is 80 * 2.75 = 220 km.",

    "| Country | Capital | Population (millions) |\n"
    "|---------|---------|-----------------------|\n"
    "| France  | Paris   | 68                    |\n"
    "| Japan   | Tokyo   | 125                   |\n"
    "| Brazil  | Brasília| 203                   |\n"
    "| Kenya   | Nairobi | 55                    |\n",

    "{\n  \"name\": \"troupe\",\n  \"version\": \"0.1.0\",\n  \"model\": {\n"
    "    \"path\": \"models/SmolLM2-135M-Instruct.Q4_1.gguf\",\n    \"context\": 2048,\n"
    "    \"threads\": 2\n  },\n  \"server\": {\"host\": \"0.0.0.0\", \"port\": 8080}\n}\n",

    "Dear Ms. Thompson,\n\nThank you for your letter of 12 May regarding the delayed shipment. "
    "I'm sorry for the inconvenience this has caused. We've investigated the matter and found "
    "that the parcel was held at customs; it'll be delivered by Thursday.\n\nKind regards,\n"
    "Daniel Okafor\nCustomer Service Team\nNorthwind Trading Ltd.\n",

    chatml("You are a helpful AI assistant named SmolLM, trained by Hugging Face",
           [("user", "Translate into French: The weather is lovely today, let's have lunch in "
                     "the garden and invite the neighbours."),
            ("assistant", "Il fait beau aujourd'hui, déjeunons dans le jardin et invitons les "
                          "voisins."),
            ("user", "Now into German, please.")]),

    "SELECT c.customer_id, c.name, SUM(o.total) AS revenue\nFROM customers AS c\n"
    "JOIN orders AS o ON o.customer_id = c.customer_id\nWHERE o.created_at >= '2024-01-01'\n"
    "GROUP BY c.customer_id, c.name\nHAVING SUM(o.total) > 1000\nORDER BY revenue DESC\n"
    "LIMIT 20;\n",

    "Once upon a time there was a little robot who lived in a lighthouse. Every night it climbed "
    "the spiral stairs, polished the great lens and watched the ships pass. One stormy evening "
    "the lamp went out, and the robot had to decide whether to leave the tower for the first "
    "time in its life. It took a lantern, wrapped a blanket around its gears and stepped out "
    "into the wind and the rain.",

    "Numbers and dates: 2023-11-05, 14:30, 3.14159, 2,718,281, 1e-6, 0xFF, 42%, $1,299.99, "
    "version 2.10.3, phone +44 20 7946 0958, and ISBN 978-3-16-148410-0. The total was "
    "12345 units across 67 warehouses in 8 regions.",

    chatml(None, [("user", "请用简单的语言解释一下什么是机器学习，并举一个日常生活中的例子。"
                           "另外，请说明它和传统编程有什么不同。")]),
]

# --------------------------------------------------------------------------- helpers

def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dump(obj_head: dict, key: str, items: list, path: str) -> None:
    """JSON with one list item per line: diff-friendly and deterministic."""
    lines = ["{"]
    for k, v in obj_head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v)},")
    lines.append(f"  {json.dumps(key)}: [")
    body = [
        "    " + json.dumps(it, ensure_ascii=True, separators=(", ", ": ")) for it in items]
    lines.append(",\n".join(body))
    lines.append("  ]")
    lines.append("}")
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def detokenize(llm: Llama, ids: list[int], special: bool) -> bytes:
    """Concatenated token pieces. (Llama.detokenize uses a 32-byte piece buffer and silently
    drops longer pieces, e.g. SmolLM2's 64 '=' token, so resize on demand instead.)"""
    vocab = llm._model.vocab
    out, size = b"", 64
    buf = (ctypes.c_char * size)()
    for t in ids:
        n = llama_cpp.llama_token_to_piece(vocab, llama_cpp.llama_token(t), buf, size, 0, special)
        if n < 0:
            size = -n
            buf = (ctypes.c_char * size)()
            n = llama_cpp.llama_token_to_piece(vocab, llama_cpp.llama_token(t), buf, size, 0,
                                               special)
        out += bytes(buf[:n])
    return out


def fmt_lp(x: float) -> float:
    r = round(float(x), 6)
    return 0.0 if r == 0 else r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL, help=f"GGUF model (default {DEFAULT_MODEL})")
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"output dir (default {DEFAULT_OUT})")
    ap.add_argument("--flash-attn", choices=("on", "off"), default="on",
                    help="llama.cpp's flash attention (default on: what llama.cpp's own 'auto' "
                         "picks on a CPU; llama-cpp-python alone would turn it off)")
    args = ap.parse_args()

    if not os.path.isfile(args.model):
        print(f"model not found: {args.model} (run scripts/fetch-model or pass --model)",
              file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    head = {
        "model": os.path.basename(args.model),
        "sha256": sha256_of(args.model),
        "llama_cpp_python": llama_cpp.__version__,
    }

    # ---- tokenizer
    voc = Llama(model_path=args.model, vocab_only=True, verbose=False)
    strings = tokenizer_strings()
    cases, roundtrip_bad = [], []
    for s in strings:
        b = s.encode("utf-8")
        for special in (True, False):
            ids = voc.tokenize(b, add_bos=special, special=special)
            cases.append({"text": s, "add_special": special, "parse_special": special, "ids": ids})
            if detokenize(voc, ids, special) != b:
                roundtrip_bad.append((special, s))
    tok_path = os.path.join(args.out, "tokenize.json")
    dump(head, "cases", cases, tok_path)
    n_ids = [len(c["ids"]) for c in cases]
    print(f"tokenize.json: {len(strings)} strings, {len(cases)} cases, "
          f"{sum(n_ids)} ids (max {max(n_ids)} per case), "
          f"{len(roundtrip_bad)} cases not decoding back to their text -> {tok_path}")
    for special, s in roundtrip_bad:
        print(f"  no exact round-trip (special={special}): {s!r}")
    del voc

    # ---- logits
    llm = Llama(model_path=args.model, n_ctx=N_CTX, n_batch=N_CTX, n_threads=N_THREADS,
                n_threads_batch=N_THREADS, logits_all=True, seed=0, verbose=False,
                flash_attn=args.flash_attn == "on")
    prompts, agree = [], 0
    for text in PROMPTS:
        all_ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        if len(all_ids) < N_IDS:
            raise SystemExit(f"prompt has only {len(all_ids)} tokens (< {N_IDS}): {text[:60]!r}")
        ids = all_ids[:N_IDS]
        llm.reset()
        llm.eval(ids)
        logits = np.array(llm.scores[:N_IDS], dtype=np.float64)  # (65, n_vocab)
        m = logits.max(axis=1, keepdims=True)
        logp = logits - (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))
        positions = []
        for p in range(N_IDS - 1):
            row = logp[p]
            order = np.lexsort((np.arange(row.size), -row))[:5]  # by logprob desc, then id
            top5 = [[int(i), fmt_lp(row[i])] for i in order]
            positions.append({"top1": int(order[0]), "top5": top5})
            agree += int(order[0]) == ids[p + 1]
        prompts.append({"text": text, "ids": ids, "positions": positions})
    log_path = os.path.join(args.out, "logits.json")
    dump({**head, "flash_attn": args.flash_attn}, "prompts", prompts, log_path)
    total = len(prompts) * (N_IDS - 1)
    print(f"logits.json: {len(prompts)} prompts x {N_IDS - 1} positions, top1 == next id at "
          f"{agree}/{total} positions -> {log_path}")
    print(f"model {head['model']} sha256 {head['sha256']} llama_cpp_python {head['llama_cpp_python']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
