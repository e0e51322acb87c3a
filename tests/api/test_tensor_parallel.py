"""`troupe serve --tensor-parallel-size 3` (the default model's 9 query heads, 3 KV heads and 1,536
features split over 3 ranks, ranks as threads): it answers through the official `openai` SDK, a
size that does not split the model is one line and exit 2, and /metrics counts each rank's
collectives — two all-reduces per layer and one gather of the logits per step — in text that
`promtool` accepts."""
import os
import shutil
import subprocess

import openai
import pytest

from conftest import Server
from test_metrics import parse, scrape, value

LAYERS = 30  # SmolLM2-135M
RANKS = 3


@pytest.fixture(scope="module")
def group_server():
    s = Server(extra_args=["--tensor-parallel-size", str(RANKS)])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def answers(group_server):
    client = openai.OpenAI(base_url=group_server.base_url + "/v1",
                           api_key=group_server.api_key, max_retries=0, timeout=120)
    model = client.models.list().data[0].id
    chat = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=16, temperature=0)
    streamed = list(client.completions.create(model=model, prompt="One, two, three,",
                                              max_tokens=12, temperature=0, stream=True))
    client.close()
    return chat, streamed


def test_a_group_answers_through_the_sdk(answers):
    chat, streamed = answers
    assert chat.choices[0].message.content.strip()
    assert chat.usage.completion_tokens > 0
    assert chat.choices[0].finish_reason in ("stop", "length")
    text = "".join(c.choices[0].text for c in streamed if c.choices)
    assert text.strip()


def test_metrics_count_two_all_reduces_per_layer_and_one_gather_per_step(group_server, answers):
    samples = parse(scrape(group_server)[1])
    assert value(samples, "troupe_tensor_parallel_size") == RANKS
    steps = [value(samples, "troupe_tensor_parallel_steps_total", rank=str(r))
             for r in range(RANKS)]
    assert steps[0] > 0 and steps == [steps[0]] * RANKS, steps
    for r in range(RANKS):
        rank = str(r)
        assert value(samples, "troupe_tensor_parallel_all_reduces_total",
                     rank=rank) == 2 * LAYERS * steps[r]
        assert value(samples, "troupe_tensor_parallel_all_gathers_total", rank=rank) == steps[r]
        step_seconds = value(samples, "troupe_tensor_parallel_step_seconds_total", rank=rank)
        collective = value(samples, "troupe_tensor_parallel_collective_seconds_total", rank=rank)
        assert 0 < collective < step_seconds


def test_tensor_parallel_metrics_pass_promtool(group_server, answers):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool is missing: run scripts/setup-deps")
    result = subprocess.run([promtool, "check", "metrics"], input=scrape(group_server)[1],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_size_that_does_not_split_the_model_is_one_line_and_exit_2():
    result = subprocess.run([os.environ["TROUPE_BIN"], "serve", "--port", "0",
                             "--tensor-parallel-size", "2"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "do not split among 2 tensor-parallel ranks" in lines[0], \
        result.stderr
