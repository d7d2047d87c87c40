"""Every bad input of docs/api.md's table, sent to a live server: each gets the documented status
and an OpenAI error document, and the server stays healthy. The table and these cases must match
row for row (the queue_full and draining rows are exercised by robustness_test.py)."""
import json
import re
import socket

from harness import MODEL_NAME, Server, check, run_main

KEY = "bad-inputs-key"
M = MODEL_NAME


def completion(**fields):
    return json.dumps({"model": M, "prompt": "hi", "max_tokens": 2, **fields}).encode()


def chat(**fields):
    body = {"model": M, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    body.update(fields)
    return json.dumps(body).encode()


# name -> (method, path, body bytes, extra headers, expected status, expected code or None)
CASES = {
    "malformed_json": ("POST", "/v1/completions", b'{"model": "x", "prompt": ', {}, 400,
                       "invalid_json"),
    "nan_literal": ("POST", "/v1/completions",
                    b'{"model": "%s", "prompt": "hi", "temperature": NaN}' % M.encode(), {}, 400,
                    "invalid_json"),
    "body_not_object": ("POST", "/v1/completions", b"[1, 2]", {}, 400, "invalid_json"),
    "invalid_utf8": ("POST", "/v1/completions",
                     b'{"model": "%s", "prompt": "\xff\xfe"}' % M.encode(), {}, 400,
                     "invalid_utf8"),
    "missing_model": ("POST", "/v1/completions", b'{"prompt": "hi"}', {}, 400,
                      "missing_required_parameter"),
    "model_wrong_type": ("POST", "/v1/completions", completion(model=7), {}, 400, "invalid_type"),
    "unknown_model": ("POST", "/v1/completions", completion(model="gpt-9"), {}, 404,
                      "model_not_found"),
    "missing_prompt": ("POST", "/v1/completions", json.dumps({"model": M}).encode(), {}, 400,
                       "missing_required_parameter"),
    "empty_prompt": ("POST", "/v1/completions", completion(prompt=""), {}, 400, "invalid_value"),
    "empty_prompt_array": ("POST", "/v1/completions", completion(prompt=[]), {}, 400,
                           "invalid_value"),
    "prompt_wrong_type": ("POST", "/v1/completions", completion(prompt={"a": 1}), {}, 400,
                          "invalid_type"),
    "token_id_out_of_range": ("POST", "/v1/completions", completion(prompt=[1, 999]), {}, 400,
                              "invalid_value"),
    "prompt_too_long": ("POST", "/v1/completions", completion(prompt=[7] * 5000), {}, 400,
                        "context_length_exceeded"),
    "max_tokens_too_large": ("POST", "/v1/completions", completion(max_tokens=5000), {}, 400,
                             "context_length_exceeded"),
    "max_tokens_zero": ("POST", "/v1/completions", completion(max_tokens=0), {}, 400,
                        "invalid_value"),
    "temperature_string": ("POST", "/v1/completions", completion(temperature="hot"), {}, 400,
                           "invalid_type"),
    "temperature_too_high": ("POST", "/v1/completions", completion(temperature=5), {}, 400,
                             "invalid_value"),
    "temperature_infinite": ("POST", "/v1/completions",
                             b'{"model": "%s", "prompt": "hi", "temperature": 1e999}' % M.encode(),
                             {}, 400, "invalid_json"),
    "top_p_zero": ("POST", "/v1/completions", completion(top_p=0), {}, 400, "invalid_value"),
    "top_k_negative": ("POST", "/v1/completions", completion(top_k=-5), {}, 400, "invalid_value"),
    "min_p_too_high": ("POST", "/v1/completions", completion(min_p=1.5), {}, 400,
                       "invalid_value"),
    "n_zero": ("POST", "/v1/completions", completion(n=0), {}, 400, "invalid_value"),
    "n_fractional": ("POST", "/v1/completions", completion(n=1.5), {}, 400, "invalid_type"),
    "seed_string": ("POST", "/v1/completions", completion(seed="42"), {}, 400, "invalid_type"),
    "stop_too_many": ("POST", "/v1/completions", completion(stop=list("abcde")), {}, 400,
                      "invalid_value"),
    "stop_empty_string": ("POST", "/v1/completions", completion(stop=[""]), {}, 400,
                          "invalid_value"),
    "presence_penalty_range": ("POST", "/v1/completions", completion(presence_penalty=-3), {},
                               400, "invalid_value"),
    "frequency_penalty_range": ("POST", "/v1/completions", completion(frequency_penalty=2.5), {},
                                400, "invalid_value"),
    "repetition_penalty_zero": ("POST", "/v1/completions", completion(repetition_penalty=0), {},
                                400, "invalid_value"),
    "logprobs_too_many": ("POST", "/v1/completions", completion(logprobs=21), {}, 400,
                          "invalid_value"),
    "stream_wrong_type": ("POST", "/v1/completions", completion(stream="yes"), {}, 400,
                          "invalid_type"),
    "stream_options_without_stream": ("POST", "/v1/completions",
                                      completion(stream_options={"include_usage": True}), {}, 400,
                                      "invalid_value"),
    "chat_empty_messages": ("POST", "/v1/chat/completions", chat(messages=[]), {}, 400,
                            "invalid_value"),
    "chat_missing_messages": ("POST", "/v1/chat/completions",
                              json.dumps({"model": M}).encode(), {}, 400,
                              "missing_required_parameter"),
    "chat_bad_role": ("POST", "/v1/chat/completions",
                      chat(messages=[{"role": "wizard", "content": "hi"}]), {}, 400,
                      "invalid_value"),
    "chat_content_wrong_type": ("POST", "/v1/chat/completions",
                                chat(messages=[{"role": "user", "content": 5}]), {}, 400,
                                "invalid_type"),
    "chat_top_logprobs_without_logprobs": ("POST", "/v1/chat/completions", chat(top_logprobs=2),
                                           {}, 400, "invalid_value"),
    "huge_body": ("POST", "/v1/completions", completion(prompt="a" * (9 << 20)), {}, 413,
                  "payload_too_large"),
    "huge_header": ("POST", "/v1/completions", completion(), {"X-Big": "b" * 7000,
                                                               "X-Big2": "c" * 7000,
                                                               "X-Big3": "d" * 7000}, 431,
                    "header_too_large"),
    "missing_api_key": ("POST", "/v1/completions", completion(), {"Authorization": None}, 401,
                        "invalid_api_key"),
    "bad_api_key": ("POST", "/v1/completions", completion(),
                    {"Authorization": "Bearer wrong-key"}, 401, "invalid_api_key"),
    "unknown_route": ("POST", "/v1/engines", completion(), {}, 404, "unknown_route"),
    "tokenize_missing_prompt": ("POST", "/tokenize", json.dumps({}).encode(), {}, 400,
                                "missing_required_parameter"),
    "detokenize_out_of_range": ("POST", "/detokenize",
                                json.dumps({"tokens": [1, 256]}).encode(), {}, 400,
                                "invalid_value"),
}


def raw_request(port, method, path, body, headers):
    """One HTTP/1.1 request over a plain socket (so bad bytes go out unaltered)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             "Content-Type: application/json", f"Content-Length: {len(body)}",
             "Connection: close"]
    for name, value in headers.items():
        if value is not None:
            lines.append(f"{name}: {value}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before reading everything
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, head.decode(errors="replace"), payload


def doc_rows(docs_path):
    """name -> status from docs/api.md's bad-input table (rows like | `name` | ... | 400 | ...)."""
    rows = {}
    with open(docs_path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\|\s*`([a-z0-9_]+)`\s*\|.*?\|\s*(\d{3})\s*\|", line)
            if m:
                rows[m.group(1)] = int(m.group(2))
    return rows


def main(args):
    rows = doc_rows(args.docs)
    check(len(rows) >= 25, f"docs/api.md lists {len(rows)} bad inputs; need >= 25")
    exercised_elsewhere = {"queue_full", "draining"}
    check(set(rows) == set(CASES) | exercised_elsewhere,
          f"docs vs tests differ: only in docs {set(rows) - set(CASES) - exercised_elsewhere}, "
          f"only in tests {set(CASES) - set(rows)}")
    with Server(args.server, ["--api-key", KEY]) as server:
        failures = []
        for name, (method, path, body, headers, status, code) in CASES.items():
            all_headers = {"Authorization": f"Bearer {KEY}", **headers}
            got, head, payload = raw_request(server.http_port, method, path, body, all_headers)
            problem = None
            if got != status or rows[name] != status:
                problem = f"status {got}, expected {status} (docs say {rows[name]})"
            else:
                try:
                    error = json.loads(payload)["error"]
                    if not {"message", "type", "param", "code"} <= set(error):
                        problem = f"error fields: {error}"
                    elif error["code"] != code:
                        problem = f"code {error['code']!r}, expected {code!r}: {error}"
                except (ValueError, KeyError, TypeError):
                    problem = f"not an OpenAI error document: {payload[:200]!r}"
            if problem:
                failures.append(f"{name}: {problem}")
            check(server.health() == 200, f"server unhealthy after {name}")
        check(not failures, "\n".join(failures))
        # A good request still works after all of that.
        status, _, body = server.post("/v1/completions", {"model": M, "prompt": "ok",
                                                          "max_tokens": 2},
                                      headers={"Authorization": f"Bearer {KEY}"})
        check(status == 200 and body["usage"]["completion_tokens"] == 2, f"{status} {body}")


if __name__ == "__main__":
    run_main(main)
