// The official `openai` npm SDK against junction-server: completions and chat, streaming and
// not, and the SDK's error classes for bad input, an unknown model and a bad key.
// Env: JUNCTION_URL (http://127.0.0.1:PORT), JUNCTION_MODEL, JUNCTION_API_KEY.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(process.env.JUNCTION_TESTS_DIR + '/package.json');
const { default: OpenAI } = await import(require.resolve('openai'));

const baseURL = process.env.JUNCTION_URL + '/v1';
const model = process.env.JUNCTION_MODEL;
const client = new OpenAI({ baseURL, apiKey: process.env.JUNCTION_API_KEY, maxRetries: 0 });

// Completions, non-streaming; greedy so that streaming must agree.
const completion = await client.completions.create({
  model, prompt: 'hello', max_tokens: 8, temperature: 0, ignore_eos: true,
});
assert.equal(completion.object, 'text_completion');
assert.equal(completion.choices.length, 1);
assert.equal(completion.choices[0].finish_reason, 'length');
assert.equal(completion.usage.prompt_tokens, 5);
assert.equal(completion.usage.completion_tokens, 8);
assert.equal(completion.usage.total_tokens, 13);

// Completions, streaming with usage.
let streamed = '';
let usage = null;
let finish = null;
const stream = await client.completions.create({
  model, prompt: 'hello', max_tokens: 8, temperature: 0, ignore_eos: true, stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    streamed += c.text;
    if (c.finish_reason) finish = c.finish_reason;
  }
}
assert.equal(streamed, completion.choices[0].text);
assert.equal(finish, 'length');
assert.equal(usage.completion_tokens, 8);

// n = 2 with a seed: two choices, indexed.
const two = await client.completions.create({
  model, prompt: 'ab', max_tokens: 4, n: 2, seed: 3, ignore_eos: true,
});
assert.deepEqual(two.choices.map((c) => c.index).sort(), [0, 1]);
assert.equal(two.usage.completion_tokens, 8);

// Chat, non-streaming and streaming.
const messages = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }];
const chat = await client.chat.completions.create({
  model, messages, max_tokens: 6, temperature: 0, ignore_eos: true,
});
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.role, 'assistant');
assert.equal(chat.choices[0].finish_reason, 'length');
assert.equal(chat.usage.completion_tokens, 6);
let chatText = '';
let role = null;
const chatStream = await client.chat.completions.create({
  model, messages, max_tokens: 6, temperature: 0, ignore_eos: true, stream: true,
});
for await (const chunk of chatStream) {
  const delta = chunk.choices[0]?.delta ?? {};
  if (delta.role) role = delta.role;
  chatText += delta.content ?? '';
}
assert.equal(role, 'assistant');
assert.equal(chatText, chat.choices[0].message.content);

// Logprobs in chat.
const lp = await client.chat.completions.create({
  model, messages, max_tokens: 3, logprobs: true, top_logprobs: 2,
});
assert.equal(lp.choices[0].logprobs.content.length, 3);
assert.ok(lp.choices[0].logprobs.content[0].top_logprobs.length <= 2);

// Models.
const models = await client.models.list();
assert.equal(models.data[0].id, model);

// Errors map onto the SDK's classes.
await assert.rejects(
  client.completions.create({ model, prompt: 'x', temperature: 5 }),
  (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'temperature');
await assert.rejects(
  client.completions.create({ model: 'no-such-model', prompt: 'x' }),
  (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
await assert.rejects(
  client.chat.completions.create({ model, messages: [] }),
  (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages');
await assert.rejects(
  client.completions.create({ model, prompt: 'x', max_tokens: 100000 }),
  (e) => e instanceof OpenAI.BadRequestError && /maximum context length is 4096/.test(e.message));
const wrongKey = new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 });
await assert.rejects(
  wrongKey.completions.create({ model, prompt: 'x' }),
  (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
console.log('openai sdk: all checks passed');
