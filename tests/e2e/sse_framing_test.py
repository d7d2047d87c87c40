"""curl checks the SSE framing byte for byte: headers, `data: {json}\\n\\n` events in order,
usage chunk, `data: [DONE]\\n\\n` last, nothing else on the wire."""
import json
import re
import subprocess

from harness import MODEL_NAME, Server, check, run_main

EVENT = re.compile(rb"data: (\{[^\n]*\})\n\n")


def curl(url, body):
    out = subprocess.run(
        ["curl", "-sS", "-N", "--max-time", "60", "-D", "-", "-H", "Content-Type: application/json",
         "--data-binary", json.dumps(body), url], capture_output=True, timeout=90, check=True)
    head, _, payload = out.stdout.partition(b"\r\n\r\n")
    return head.decode(), payload


def split_events(payload):
    """Consumes the payload strictly: every byte belongs to an event; [DONE] is last."""
    events, pos = [], 0
    while True:
        if payload[pos:] == b"data: [DONE]\n\n":
            return events
        m = EVENT.match(payload, pos)
        check(m is not None, f"bad SSE bytes at {pos}: {payload[pos:pos + 80]!r}")
        events.append(json.loads(m.group(1)))
        pos = m.end()


def main(args):
    with Server(args.server) as server:
        body = {"model": MODEL_NAME, "prompt": "abc", "max_tokens": 10, "temperature": 0,
                "ignore_eos": True}
        status, _, full = server.post("/v1/completions", body)
        check(status == 200, f"non-streaming: {status} {full}")

        head, payload = curl(server.url + "/v1/completions",
                             dict(body, stream=True, stream_options={"include_usage": True}))
        check(head.startswith("HTTP/1.1 200"), head)
        check(re.search(r"(?im)^content-type: text/event-stream\s*$", head) is not None, head)
        check(re.search(r"(?im)^cache-control: no-cache\s*$", head) is not None, head)
        events = split_events(payload)
        check(len(events) >= 2, f"events: {events}")
        ids = {e["id"] for e in events}
        check(len(ids) == 1 and next(iter(ids)).startswith("cmpl-"), f"one id: {ids}")
        for e in events[:-1]:
            check(e["object"] == "text_completion" and len(e["choices"]) == 1, e)
            check(e["usage"] is None, f"usage null before the end: {e}")
        finishes = [e["choices"][0]["finish_reason"] for e in events[:-1]]
        check(finishes[-1] == "length" and all(f is None for f in finishes[:-1]), finishes)
        text = "".join(e["choices"][0]["text"] for e in events[:-1])
        check(text == full["choices"][0]["text"], f"{text!r} vs {full['choices'][0]['text']!r}")
        check(events[-1]["choices"] == [] and events[-1]["usage"] == full["usage"], events[-1])

        # Chat: the role first, content deltas, an empty-delta finish chunk, [DONE]; no usage
        # key at all without stream_options.
        head, payload = curl(server.url + "/v1/chat/completions",
                             {"model": MODEL_NAME, "stream": True, "max_tokens": 5, "ignore_eos": True,
                              "messages": [{"role": "user", "content": "hi"}]})
        events = split_events(payload)
        check(events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}, events[0])
        check(all("usage" not in e for e in events), "no usage without include_usage")
        check(events[-1]["choices"][0]["finish_reason"] == "length", events[-1])
        check(all(e["object"] == "chat.completion.chunk" for e in events), "chunk objects")


if __name__ == "__main__":
    run_main(main)
