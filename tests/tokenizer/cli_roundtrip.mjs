// ctest tokenizer_cli_roundtrip: the junction-cli --tokenize / --detokenize code path
// (RunTokenizeCommand, run through junction-tokenizer-tool) on single-line corpus strings:
// ids equal the oracle's, and detokenize(tokenize(line)) == line for Qwen3 and gpt-oss.
// Usage: node cli_roundtrip.mjs JUNCTION_TOKENIZER_TOOL
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TokenizerLoader } from "@lenml/tokenizers";

const here = path.dirname(fileURLToPath(import.meta.url));
const testsDir = path.dirname(here);
const tool = process.argv[2];
const corpus = JSON.parse(fs.readFileSync(path.join(testsDir, "data", "tokenizer_corpus.json"), "utf8"));
// One string per line: only strings without line breaks (the CLI splits on "\n").
const lines = corpus.filter((s) => !s.includes("\n") && !s.includes("\r"));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "junction-cli-"));
const textFile = path.join(tmp, "lines.txt");
fs.writeFileSync(textFile, lines.join("\n") + "\n");
let failures = 0;

for (const model of ["qwen3", "gptoss"]) {
  const dir = path.join(testsDir, "node_modules", "@lenml", `tokenizer-${model}`, "models");
  const oracle = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
  });
  const idLines = execFileSync(tool, ["tokenize", dir, textFile], { maxBuffer: 1 << 30, encoding: "utf8" })
    .split("\n").filter((l) => l.length > 0);
  if (idLines.length !== lines.length) {
    console.log(`FAIL ${model}: ${idLines.length} output lines for ${lines.length} input lines`);
    failures++;
    continue;
  }
  const idsFile = path.join(tmp, `${model}.ids`);
  fs.writeFileSync(idsFile, idLines.join("\n") + "\n");
  const texts = execFileSync(tool, ["detokenize", dir, idsFile], { maxBuffer: 1 << 30, encoding: "utf8" })
    .split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
  let same = 0;
  lines.forEach((line, i) => {
    const expected = JSON.stringify(oracle.encode(line, { add_special_tokens: false }));
    const expectedText = model === "qwen3" ? line.normalize("NFC") : line;
    if (idLines[i] !== expected) {
      if (failures++ < 20) console.log(`FAIL ${model} tokenize ${JSON.stringify(line)}: ${idLines[i]} vs ${expected}`);
    } else if (texts[i] !== expectedText) {
      if (failures++ < 20) console.log(`FAIL ${model} detokenize ${JSON.stringify(line)}: ${JSON.stringify(texts[i])}`);
    } else {
      same++;
    }
  });
  console.log(`${model}: ${same}/${lines.length} lines tokenize like the oracle and round-trip`);
}
// A malformed ids line is a one-line error and a non-zero exit.
const badFile = path.join(tmp, "bad.ids");
fs.writeFileSync(badFile, "[1, 2\n");
try {
  execFileSync(tool, ["detokenize", path.join(testsDir, "data", "byte_tokenizer"), badFile], { stdio: "pipe" });
  console.log("FAIL detokenize accepted a malformed line");
  failures++;
} catch (e) {
  const stderr = String(e.stderr);
  if (!stderr.includes("bad.ids:1") || stderr.trim().split("\n").length !== 1) {
    console.log(`FAIL unexpected error output: ${stderr}`);
    failures++;
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
if (failures > 0) process.exit(1);
console.log("cli round trip ok");
