"""Runs openai_sdk_test.mjs (the official openai npm SDK) against a fresh junction-server."""
import os
import subprocess

from harness import MODEL_NAME, TESTS_DIR, Server, check, run_main


def main(args):
    with Server(args.server, ["--api-key", "sdk-key"]) as server:
        env = dict(os.environ, JUNCTION_URL=server.url, JUNCTION_MODEL=MODEL_NAME,
                   JUNCTION_API_KEY="sdk-key", JUNCTION_TESTS_DIR=TESTS_DIR)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openai_sdk_test.mjs")
        result = subprocess.run(["node", script], env=env, timeout=240)
        check(result.returncode == 0, "openai_sdk_test.mjs failed")


if __name__ == "__main__":
    run_main(main)
