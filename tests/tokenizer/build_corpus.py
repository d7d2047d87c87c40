#!/usr/bin/env python3
"""Builds tests/data/tokenizer_corpus.json, the oracle-comparison corpus (a JSON array of
strings). Deterministic: Tiny Shakespeare lines and multi-line passages, plus hand-written lines
of several scripts, emoji with modifiers, code, whitespace runs, digits, literal special-token
strings and non-NFC text, and seeded random mixtures of them.
Run: python3 tests/tokenizer/build_corpus.py"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data")

SCRIPTS = {
    "cjk": [
        "你好，世界！今天天气很好。", "我们一起去北京的图书馆学习吧", "機械学習は人工知能の一分野です。",
        "東京タワーは高さ333メートルです", "ひらがなとカタカナと漢字", "안녕하세요, 만나서 반갑습니다.",
        "한국어 형태소 분석기는 어렵다", "中华人民共和国成立于1949年", "「引用」と『二重引用』、句読点。",
        "全角文字：ＡＢＣ１２３", "𠮷野家の𩸽定食", "龍と竜は同じ意味です",
    ],
    "arabic": [
        "مرحبا بالعالم", "اللغة العربية جميلة جداً", "كيف حالك اليوم؟", "السلام عليكم ورحمة الله وبركاته",
        "الذكاء الاصطناعي يغير العالم ١٢٣٤", "هذا نص تجريبي مع أرقام 2024", "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ",
        "مكتبة الإسكندرية", "شكراً جزيلاً!",
    ],
    "devanagari": [
        "नमस्ते दुनिया", "भारत एक विशाल देश है।", "मुझे हिंदी पढ़ना पसंद है", "संस्कृत भाषा बहुत प्राचीन है",
        "क्षत्रिय ज्ञान श्रृंगार", "१२३४५ संख्याएँ", "आप कैसे हैं?", "मराठी आणि नेपाली देखील देवनागरी वापरतात",
    ],
    "cyrillic": [
        "Привет, мир!", "Москва — столица России.", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "Україна, Київ, ґанок, їжак", "Ёлка и ёжик", "Български език и сръбски језик",
        "ПРОПИСНЫЕ буквы и строчные", "Война и мир, том 1",
    ],
    "other": [
        "Ελληνικά: Καλημέρα κόσμε", "עברית: שלום עולם", "ภาษาไทย สวัสดีครับ", "Tiếng Việt có dấu: Chào bạn",
        "Ærøskøbing, Straße, façade, naïve, jalapeño", "ﬁ ligature ﬂ and ½ ¼ ™ ©", "Ǆemal ǅ ǆ",
        "ᐊᓂᔑᓈᐯᒧᐎᓐ", "ქართული ენა", "Հայերեն", "ꦧꦱꦗꦮ",
    ],
    "emoji": [
        "👍🏽 thumbs up", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇯🇵🇺🇸🇫🇷 flags", "1️⃣ 2️⃣ #️⃣ keycaps",
        "👩🏿‍💻 coder", "🧑‍🤝‍🧑", "😀😃😄😁😆😅😂🤣", "❤️‍🔥 heart on fire", "🫠🫡🫶🏻", "✌🏼 peace ☮️",
        "emoji at end 🙂", "🙂emoji at start", "mixed😀text😃here",
    ],
    "code": [
        "def main():\n    print(\"hello\")\n    return 0\n",
        "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}",
        "#include <iostream>\nint main() { std::cout << \"hi\\n\"; }",
        "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
        "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
        "const f = (x) => x ** 2; // arrow function",
        "if [[ -f \"$file\" ]]; then echo \"$file exists\"; fi",
        "<div class=\"container\"><p>Hello &amp; welcome</p></div>",
        "x = [i for i in range(10) if i % 2 == 0]",
        "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
        "    indented line with trailing spaces    ",
        "import numpy as np\n\n\nclass Foo(Bar):\n    pass",
        "a+=1;b-=2;c*=3;d/=4;e%=5;f**=6;g//=7",
        "https://example.com/path?query=1&other=two#frag",
        "user@example.com, +1 (555) 123-4567",
    ],
    "whitespace": [
        "a  b", "a   b    c", "   leading spaces", "trailing spaces   ", "\ttab\tseparated\tvalues",
        "line one\nline two", "para one\n\npara two", "\n\n\nthree newlines first", "windows\r\nline\r\nendings",
        "mixed \t \n \r\n whitespace", "                                ", "\t\t\t\t", "\n", " ", "  \n  ",
        "word\u00a0nbsp", "ideographic\u3000space", "thin\u2009space", "en\u2002space em\u2003space",
        "x\n \ny", "end with newline\n", "  \t  mixed indent", "a \n\n\n\n b",
    ],
    "digits": [
        "1234567890", "3.14159265358979", "1,000,000.00", "2024-01-15T12:34:56Z", "0x1F 0b1010 0o777",
        "12 345 6789 01234", "-42 +17 1e-10 6.022e23", "99.9% of 1000", "v1.2.3-beta.4", "١٢٣ ۴۵۶ १२३",
        "₁₂₃ ¹²³ ①②③", "$100 €200 £300 ¥400", "9999999999999999999999",
    ],
    "special": [
        "<|im_start|>user\nhello<|im_end|>", "<|endoftext|>", "text<|endoftext|>more text", "<s>", "</s>",
        "<s> hello </s>", "<unk> token", "<bos>start", "<eos>", "<start_of_turn>user\nhi<end_of_turn>",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
        "<|startoftext|><|start|>user<|message|>hi<|end|>", "<|return|>", "<pad><pad>",
        "<think>\nreasoning\n</think>\n\nanswer", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
        "<|im_start|><|im_start|>", "<|im_start", "im_start|>", "< |im_start| >", "<<s>>",
        "<start_of_image>", "<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>",
    ],
    "nfc": [
        "e\u0301cole", "Cafe\u0301", "A\u030a ring", "n\u0303", "\u1100\u1161\u11a8 hangul jamo",
        "o\u0308\u0304 stacked", "\u0041\u0328\u0301", "\u212b angstrom", "\u2126 ohm", "q\u0307\u0323",
    ],
}


def main():
    rng = random.Random(20240601)
    with open(os.path.join(DATA, "tinyshakespeare.txt"), encoding="utf-8") as f:
        shakespeare = f.read().split("\n")
    corpus = [line for line in shakespeare[:1800] if line.strip()][:1500]
    # Multi-line passages keep newlines, blank lines and speaker headers together.
    for start in range(2000, 2000 + 120 * 7, 7):
        corpus.append("\n".join(shakespeare[start:start + rng.randint(2, 7)]))
    for lines in SCRIPTS.values():
        corpus.extend(lines)
    pieces = [line for lines in SCRIPTS.values() for line in lines]
    separators = ["", " ", "  ", "\n", "\t", " \n ", "\n\n"]
    while len(corpus) < 2150:
        n = rng.randint(2, 4)
        corpus.append(rng.choice(separators).join(rng.choice(pieces) for _ in range(n)))
    with open(os.path.join(DATA, "tokenizer_corpus.json"), "w", encoding="utf-8") as f:
        json.dump(corpus, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print("wrote", len(corpus), "strings")


if __name__ == "__main__":
    main()
