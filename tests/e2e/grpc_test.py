"""gRPC end to end with Debian's python3-grpcio: streaming Generate (text and ids), the final
result (usage, finish reason, backend plan), deadlines, cancellation, status codes, Tokenize /
Detokenize / ListModels, grpc.health.v1 and reflection."""
import time

import grpc

from grpc_client import JunctionClient
from harness import MODEL_NAME, Server, check, run_main


def collect(responses):
    deltas, result = [], None
    for r in responses:
        if r.WhichOneof("kind") == "delta":
            deltas.append(r.delta)
        else:
            result = r.result
    return deltas, result


def expect_code(fn, code, what):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, f"{what}: expected {code}, got {e.code()}: {e.details()}")
        return e
    raise AssertionError(f"{what}: expected {code}, got OK")


def main(args):
    with Server(args.server) as server:
        client = JunctionClient(server.grpc_target, args.descriptor_set)
        TokenIds = client.message("junction.v1.TokenIds")
        Sampling = client.message("junction.v1.SamplingParams")

        check(client.health() == 1, "health: expected SERVING")
        check(b"junction.v1.Generation" in client.reflection_services(), "reflection lists us")

        models = client.unary("ListModels").models
        check(len(models) == 1 and models[0].id == MODEL_NAME, f"ListModels: {models}")
        check(models[0].vocab_size == 256 and models[0].architecture == "LlamaForCausalLM", "info")

        ids = list(client.unary("Tokenize", text="hello").token_ids)
        check(ids == [104, 101, 108, 108, 111], f"Tokenize: {ids}")
        check(client.unary("Detokenize", token_ids=ids).text == "hello", "Detokenize")

        # Streaming Generate from ids, greedy: tokens, text and the final result agree.
        sampling = Sampling(temperature=0, max_tokens=12, ignore_eos=True)
        deltas, result = collect(client.generate(
            token_ids=TokenIds(ids=[1, 10, 20, 30]), sampling=sampling, timeout=60))
        tokens = [t for d in deltas for t in d.token_ids]
        check(len(tokens) == 12, f"12 tokens streamed, got {len(tokens)}")
        check(result is not None and result.finish_reason == "length", f"result: {result}")
        check(result.usage.prompt_tokens == 4 and result.usage.completion_tokens == 12, "usage")
        check(len(result.plan.layers) >= 1 and result.plan.layers[0].backend, "backend plan")
        text = "".join(d.text for d in deltas)
        detok = client.unary("Detokenize", token_ids=tokens).text
        check(text == detok, f"streamed text {text!r} == detokenized {detok!r}")

        # Text prompt, stop string: the text ends before it, finish reason stop.
        deltas, result = collect(client.generate(
            text="abc", sampling=Sampling(temperature=0, max_tokens=40, ignore_eos=True),
            timeout=60))
        full = "".join(d.text for d in deltas)
        check(len(full) >= 4, f"some text: {full!r}")
        stop = full[2:4]
        deltas, result = collect(client.generate(
            text="abc", sampling=Sampling(temperature=0, max_tokens=40, ignore_eos=True,
                                          stop=[stop]), timeout=60))
        stopped = "".join(d.text for d in deltas)
        check(result.finish_reason == "stop", f"stop finish: {result.finish_reason}")
        check(stopped == full[:full.index(stop)], f"stop text {stopped!r} vs {full!r}")

        # Status codes.
        expect_code(lambda: collect(client.generate(text="", timeout=10)),
                    grpc.StatusCode.INVALID_ARGUMENT, "empty prompt")
        expect_code(lambda: collect(client.generate(
            text="a", sampling=Sampling(temperature=float("nan")), timeout=10)),
            grpc.StatusCode.INVALID_ARGUMENT, "NaN temperature")
        expect_code(lambda: collect(client.generate(
            token_ids=TokenIds(ids=[1, 999]), timeout=10)),
            grpc.StatusCode.INVALID_ARGUMENT, "token id out of range")
        expect_code(lambda: collect(client.generate(
            text="a", sampling=Sampling(max_tokens=5000), timeout=10)),
            grpc.StatusCode.INVALID_ARGUMENT, "max_tokens beyond the context")
        expect_code(lambda: collect(client.generate(model="nope", text="a", timeout=10)),
                    grpc.StatusCode.NOT_FOUND, "unknown model")

        # Deadline: a long generation with a short deadline ends DEADLINE_EXCEEDED and its
        # blocks return to the pool.
        # The deadline is a quarter of the same generation's measured time: a fixed 0.5 s was
        # enough for all 3000 tokens on an idle machine.
        baseline = server.metrics()["junction_kv_blocks_used"]
        long_sampling = Sampling(temperature=0, max_tokens=3000, ignore_eos=True)
        start = time.time()
        collect(client.generate(text="x", sampling=long_sampling, timeout=60))
        full = time.time() - start
        start = time.time()
        expect_code(lambda: collect(client.generate(text="x", sampling=long_sampling,
                                                    timeout=min(0.5, full / 4))),
                    grpc.StatusCode.DEADLINE_EXCEEDED, "deadline")
        check(time.time() - start < 5, "deadline honoured promptly")

        # Cancel mid-stream.
        call = client.generate(text="y", sampling=long_sampling, timeout=60)
        got = 0
        for r in call:
            got += 1
            if got == 3:
                call.cancel()
                break
        check(call.code() == grpc.StatusCode.CANCELLED, f"cancelled: {call.code()}")

        deadline = time.time() + 2
        while time.time() < deadline:
            m = server.metrics()
            if m["junction_requests_running"] == 0 and m["junction_kv_blocks_used"] <= baseline:
                break
            time.sleep(0.05)
        m = server.metrics()
        check(m["junction_requests_running"] == 0, f"running after cancel: {m}")
        check(m["junction_kv_blocks_used"] <= baseline, "blocks back after deadline/cancel")

    # API key: UNAUTHENTICATED without it, OK with it.
    with Server(args.server, ["--api-key", "grpc-key"]) as server:
        bad = JunctionClient(server.grpc_target, args.descriptor_set)
        expect_code(lambda: bad.unary("ListModels"), grpc.StatusCode.UNAUTHENTICATED, "no key")
        good = JunctionClient(server.grpc_target, args.descriptor_set,
                              metadata=[("authorization", "Bearer grpc-key")])
        check(len(good.unary("ListModels").models) == 1, "with the key")


if __name__ == "__main__":
    run_main(main)
