// Oracle side of bench/tokenizer_throughput.sh: transformers.js (@lenml/tokenizers) encode
// throughput on one text, whole file as one string, no special tokens, best of REPEATS.
// Usage: node encode_throughput.mjs TOKENIZER_DIR TEXT_FILE [REPEATS]
import fs from "node:fs";
import path from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";

const [dir, textFile, repeatsArg] = process.argv.slice(2);
const repeats = Math.max(1, Number(repeatsArg ?? 5));
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
});
const text = fs.readFileSync(textFile, "utf8");
const bytes = Buffer.byteLength(text, "utf8");
let best = Infinity, tokens = 0;
for (let i = 0; i < repeats; i++) {
  const start = process.hrtime.bigint();
  tokens = tokenizer.encode(text, { add_special_tokens: false }).length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  best = Math.min(best, seconds);
}
console.log(JSON.stringify({ impl: "transformers.js", bytes, tokens, best_s: best, mb_per_s: bytes / 1e6 / best }));
