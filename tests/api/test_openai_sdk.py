"""The OpenAI-compatible API through the official `openai` Python SDK, against `troupe serve`.

Every expectation here is OpenAI's documented behaviour (and vLLM's, where the route is vLLM's),
so a failure is the server's to fix. Generations stay short (CPU, 2 cores): a few tokens each.
The usage-ledger test reads what the others did, so it runs last.
"""
import concurrent.futures
import json
import math
import os
import subprocess
import time
import urllib.error
import urllib.request

import openai
import pytest

GENERATION_PATHS = ("/v1/chat/completions", "/v1/completions")
HELLO = [{"role": "user", "content": "Say hello in a few words."}]
COUNT_PROMPT = "Count: 1, 2, 3, 4,"

# Successful generation calls made with the `sk-test` client, for the usage-ledger test.
generations_ok = {"count": 0}


def _count_generation(response):
    if response.status_code == 200 and response.request.url.path in GENERATION_PATHS:
        generations_ok["count"] += 1


@pytest.fixture(scope="module")
def client(server):
    # max_retries=0: a 429 or 5xx must show, not be retried away by the SDK.
    http_client = openai.DefaultHttpxClient(event_hooks={"response": [_count_generation]})
    c = openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.api_key, max_retries=0,
                      timeout=120, http_client=http_client)
    yield c
    c.close()


@pytest.fixture(scope="module")
def model(client):
    return client.models.list().data[0].id


def raw(server, method, path, body=None, key="default"):
    """One plain HTTP call (urllib): (status, headers, parsed JSON or text)."""
    headers = {"Content-Type": "application/json"}
    key = server.api_key if key == "default" else key
    if key:
        headers["Authorization"] = "Bearer " + key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.base_url + path, data=data, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers, text = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        status, headers, text = e.code, e.headers, e.read().decode()
    try:
        return status, headers, json.loads(text)
    except ValueError:
        return status, headers, text


def chat_stream(client, model, **kwargs):
    return list(client.chat.completions.create(model=model, stream=True, **kwargs))


def completion_stream(client, model, **kwargs):
    return list(client.completions.create(model=model, stream=True, **kwargs))


def finish_chunks(chunks):
    return [c for chunk in chunks for c in chunk.choices if c.finish_reason is not None]


def assert_usage_adds_up(usage, max_completion):
    assert usage.prompt_tokens > 0
    assert 1 <= usage.completion_tokens <= max_completion
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


# --- /v1/models ------------------------------------------------------------------------------


def test_models_lists_the_served_model_and_chat_accepts_its_name(client):
    models = client.models.list().data
    assert len(models) == 1
    assert models[0].object == "model" and models[0].id
    assert models[0].owned_by
    response = client.chat.completions.create(model=models[0].id, messages=HELLO, max_tokens=2)
    assert response.model == models[0].id


# --- chat ------------------------------------------------------------------------------------


def test_chat_non_stream(client, model):
    response = client.chat.completions.create(model=model, messages=HELLO, max_tokens=16, seed=1)
    assert response.id.startswith("chatcmpl-")
    assert response.object == "chat.completion"
    assert abs(response.created - time.time()) < 600
    assert response.model == model
    assert response.system_fingerprint
    assert len(response.choices) == 1
    choice = response.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert_usage_adds_up(response.usage, 16)
    if choice.finish_reason == "length":
        assert response.usage.completion_tokens == 16


def test_chat_stream_matches_non_stream(client, model):
    chunks = chat_stream(client, model, messages=HELLO, max_tokens=12, temperature=0)
    assert chunks, "the stream carried no chunks"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model == model for c in chunks)
    assert all(c.usage is None for c in chunks), "usage is only sent with include_usage"
    finishes = finish_chunks(chunks)
    assert len(finishes) == 1
    assert finishes[0] is chunks[-1].choices[0], "the finish_reason chunk must be the last"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    # Greedy: the same tokens as the same request unstreamed.
    full = client.chat.completions.create(model=model, messages=HELLO, max_tokens=12,
                                          temperature=0)
    assert text == full.choices[0].message.content
    assert finishes[0].finish_reason == full.choices[0].finish_reason


def test_chat_stream_include_usage(client, model):
    chunks = chat_stream(client, model, messages=HELLO, max_tokens=8, temperature=0,
                         stream_options={"include_usage": True})
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert len(finish_chunks(chunks)) == 1
    full = client.chat.completions.create(model=model, messages=HELLO, max_tokens=8,
                                          temperature=0)
    assert last.usage.prompt_tokens == full.usage.prompt_tokens
    assert last.usage.completion_tokens == full.usage.completion_tokens
    assert last.usage.total_tokens == full.usage.total_tokens
    assert_usage_adds_up(last.usage, 8)


def test_chat_n_2(client, model):
    response = client.chat.completions.create(model=model, messages=HELLO, max_tokens=6, n=2,
                                              seed=7, temperature=1.0)
    assert sorted(c.index for c in response.choices) == [0, 1]
    assert all(c.finish_reason in ("stop", "length") for c in response.choices)
    assert_usage_adds_up(response.usage, 12)

    chunks = chat_stream(client, model, messages=HELLO, max_tokens=4, n=2, seed=7,
                         temperature=1.0)
    roles = [c.index for chunk in chunks for c in chunk.choices if c.delta.role == "assistant"]
    assert sorted(roles) == [0, 1]
    assert sorted(c.index for c in finish_chunks(chunks)) == [0, 1]


def test_chat_stop_string(client, model):
    messages = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    full = client.chat.completions.create(model=model, messages=messages, max_tokens=16,
                                          temperature=0).choices[0].message.content
    stop = "4"
    assert stop in full, "precondition: the greedy answer contains the stop string: %r" % full
    response = client.chat.completions.create(model=model, messages=messages, max_tokens=16,
                                              temperature=0, stop=[stop, "never-seen"])
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert stop not in choice.message.content
    assert choice.message.content == full[:full.index(stop)]


# --- completions -----------------------------------------------------------------------------


def test_completions_non_stream(client, model):
    response = client.completions.create(model=model, prompt="The capital of France is",
                                         max_tokens=8, seed=1)
    assert response.id.startswith("cmpl-")
    assert response.object == "text_completion"
    assert abs(response.created - time.time()) < 600
    assert response.model == model
    assert len(response.choices) == 1 and response.choices[0].index == 0
    assert response.choices[0].text
    assert response.choices[0].finish_reason in ("stop", "length")
    assert_usage_adds_up(response.usage, 8)


def test_completions_stream_matches_non_stream(client, model):
    chunks = completion_stream(client, model, prompt="The capital of France is", max_tokens=8,
                               temperature=0)
    assert all(c.object == "text_completion" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    finishes = finish_chunks(chunks)
    assert len(finishes) == 1 and finishes[0] is chunks[-1].choices[0]
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    full = client.completions.create(model=model, prompt="The capital of France is",
                                     max_tokens=8, temperature=0)
    assert text == full.choices[0].text
    assert finishes[0].finish_reason == full.choices[0].finish_reason


def test_completions_two_prompts(client, model):
    prompts = ["The capital of France is", "Once upon a time"]
    singles = [client.completions.create(model=model, prompt=p, max_tokens=4,
                                         temperature=0).choices[0].text for p in prompts]
    response = client.completions.create(model=model, prompt=prompts, max_tokens=4,
                                         temperature=0)
    assert sorted(c.index for c in response.choices) == [0, 1]
    by_index = {c.index: c.text for c in response.choices}
    assert [by_index[0], by_index[1]] == singles, "choice i answers prompt i"
    assert_usage_adds_up(response.usage, 8)

    chunks = completion_stream(client, model, prompt=prompts, max_tokens=4, temperature=0)
    texts = {0: "", 1: ""}
    for chunk in chunks:
        for c in chunk.choices:
            texts[c.index] += c.text
    assert [texts[0], texts[1]] == singles
    assert sorted(c.index for c in finish_chunks(chunks)) == [0, 1]


def test_completions_two_prompts_n_2_index_choices_prompt_major(client, model):
    response = client.completions.create(model=model, prompt=["Hello", "Goodbye"], n=2,
                                         max_tokens=2, seed=3)
    assert sorted(c.index for c in response.choices) == [0, 1, 2, 3]


def test_completions_token_id_prompt(client, model, server):
    prompt = "The capital of France is"
    status, _, tokenized = raw(server, "POST", "/tokenize", {"prompt": prompt})
    assert status == 200
    ids = tokenized["tokens"]
    by_ids = client.completions.create(model=model, prompt=ids, max_tokens=4, temperature=0)
    by_text = client.completions.create(model=model, prompt=prompt, max_tokens=4, temperature=0)
    assert by_ids.usage.prompt_tokens == len(ids)
    assert by_ids.choices[0].text == by_text.choices[0].text
    # A list holding one token-id prompt.
    nested = client.completions.create(model=model, prompt=[ids], max_tokens=4, temperature=0)
    assert nested.choices[0].text == by_text.choices[0].text


def test_completions_stop_string_across_tokens_stream_and_not(client, model):
    full = client.completions.create(model=model, prompt=COUNT_PROMPT, max_tokens=16,
                                     temperature=0).choices[0].text
    stop = ", 7"
    assert stop in full, "precondition: the greedy text contains the stop string: %r" % full
    expected = full[:full.index(stop)]
    response = client.completions.create(model=model, prompt=COUNT_PROMPT, max_tokens=16,
                                         temperature=0, stop=stop)
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].text == expected
    chunks = completion_stream(client, model, prompt=COUNT_PROMPT, max_tokens=16,
                               temperature=0, stop=[stop])
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert stop not in text
    assert text == expected
    assert [c.finish_reason for c in finish_chunks(chunks)] == ["stop"]


# --- sampling --------------------------------------------------------------------------------


def test_seed_reproducible(client, model):
    messages = [{"role": "user", "content": "Write a short poem about the sea."}]

    def once(**kwargs):
        return client.chat.completions.create(model=model, messages=messages, max_tokens=12,
                                              **kwargs).choices[0].message.content

    assert once(seed=1234, temperature=1.0) == once(seed=1234, temperature=1.0)
    assert once(temperature=0) == once(temperature=0)


def test_seed_reproducible_when_batched_with_others(client, model):
    # DESIGN.md: same seed + same inputs => same tokens, alone or batched.
    messages = [{"role": "user", "content": "Name three colours."}]

    def seeded():
        return client.chat.completions.create(model=model, messages=messages, max_tokens=10,
                                              seed=99, temperature=1.0).choices[0].message.content

    def other(i):
        return client.completions.create(model=model, prompt="Story %d: once" % i,
                                         max_tokens=10, seed=i, temperature=1.0)

    alone = seeded()
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        others = [pool.submit(other, i) for i in range(2)]
        batched = pool.submit(seeded)
        assert batched.result() == alone
        for f in others:
            f.result()


def test_max_tokens_1(client, model):
    response = client.chat.completions.create(model=model, messages=HELLO, max_tokens=1,
                                              temperature=0)
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 1
    chunks = completion_stream(client, model, prompt="The capital of France is", max_tokens=1,
                               temperature=0, stream_options={"include_usage": True})
    assert [c.finish_reason for c in finish_chunks(chunks)] == ["length"]
    assert chunks[-1].usage.completion_tokens == 1


# --- logprobs --------------------------------------------------------------------------------


def check_chat_logprob_items(items):
    for item in items:
        assert isinstance(item.token, str)
        assert item.logprob <= 0
        assert isinstance(item.bytes, list) and all(0 <= b <= 255 for b in item.bytes)
        if "\ufffd" not in item.token:
            assert bytes(item.bytes) == item.token.encode("utf-8")
        top = item.top_logprobs
        assert len(top) == 3
        values = [t.logprob for t in top]
        assert values == sorted(values, reverse=True), "top_logprobs must be sorted descending"
        assert all(v <= 0 for v in values)
        assert item.logprob <= top[0].logprob + 1e-5
        for t in top:
            if t.bytes == item.bytes:
                assert math.isclose(t.logprob, item.logprob, abs_tol=1e-4)


def test_chat_logprobs(client, model):
    response = client.chat.completions.create(model=model, messages=HELLO, max_tokens=6,
                                              logprobs=True, top_logprobs=3, seed=11)
    choice = response.choices[0]
    items = choice.logprobs.content
    assert len(items) == response.usage.completion_tokens
    check_chat_logprob_items(items)
    if choice.finish_reason == "length":
        assert b"".join(bytes(i.bytes) for i in items).decode("utf-8") == choice.message.content

    # Streamed: each token's logprobs ride on its chunk.
    chunks = chat_stream(client, model, messages=HELLO, max_tokens=4, logprobs=True,
                         top_logprobs=3, stream_options={"include_usage": True})
    streamed = [item for chunk in chunks for c in chunk.choices
                if c.logprobs is not None for item in c.logprobs.content]
    assert len(streamed) == chunks[-1].usage.completion_tokens
    check_chat_logprob_items(streamed)


def test_completions_logprobs(client, model):
    response = client.completions.create(model=model, prompt="The capital of France is",
                                         max_tokens=6, logprobs=2, seed=5)
    logprobs = response.choices[0].logprobs
    n = response.usage.completion_tokens
    assert len(logprobs.tokens) == n
    assert len(logprobs.token_logprobs) == n
    assert len(logprobs.top_logprobs) == n
    assert len(logprobs.text_offset) == n
    assert all(lp <= 0 for lp in logprobs.token_logprobs)
    assert logprobs.text_offset == sorted(logprobs.text_offset)
    if response.choices[0].finish_reason == "length":
        assert "".join(logprobs.tokens) == response.choices[0].text
    for token, logprob, top in zip(logprobs.tokens, logprobs.token_logprobs,
                                   logprobs.top_logprobs):
        assert 1 <= len(top) <= 3
        assert all(v <= 0 for v in top.values())
        assert logprob <= max(top.values()) + 1e-5


def test_completions_logprobs_include_the_sampled_token(client, model):
    # OpenAI: "The API will always return the logprob of the sampled token, so there may be up
    # to logprobs+1 elements in the response" (vLLM does the same).
    response = client.completions.create(model=model, prompt="Once upon a time", max_tokens=8,
                                         logprobs=1, temperature=1.0, seed=21)
    logprobs = response.choices[0].logprobs
    for token, logprob, top in zip(logprobs.tokens, logprobs.token_logprobs,
                                   logprobs.top_logprobs):
        if "\ufffd" in token:
            continue
        assert token in top, "sampled %r missing from top_logprobs %r" % (token, top)
        assert math.isclose(top[token], logprob, abs_tol=1e-4)


# --- errors ----------------------------------------------------------------------------------


def test_temperature_out_of_range_is_bad_request_naming_the_param(client, model):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=HELLO, temperature=3)
    assert caught.value.status_code == 400
    assert caught.value.param == "temperature"
    assert "temperature" in caught.value.body["message"]


def test_empty_messages_is_bad_request(client, model):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=[])
    assert caught.value.param == "messages"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens", "n"])
def test_zero_count_parameter_is_bad_request_naming_it(client, model, field):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=HELLO, **{field: 0})
    assert caught.value.param == field, caught.value.body


def test_bad_request_before_a_stream_is_an_http_error(client, model):
    with pytest.raises(openai.BadRequestError) as caught:
        chat_stream(client, model, messages=HELLO, top_logprobs=3)  # needs logprobs=True
    assert caught.value.param == "top_logprobs"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=HELLO, max_tokens=2,
                                       stream_options={"include_usage": True})
    assert caught.value.param == "stream_options"


def long_text(words=3000):
    return " ".join("word%d" % (i % 50) for i in range(words))


def test_prompt_longer_than_the_context_is_bad_request(client, model):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, max_tokens=4,
                                       messages=[{"role": "user", "content": long_text()}])
    assert "2048" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=model, prompt=long_text(), max_tokens=4)


def test_prompt_plus_max_tokens_over_the_context_is_bad_request(client, model, server):
    # OpenAI and vLLM answer 400 when prompt tokens + max_tokens exceed the context, rather
    # than generating a truncated answer. The logit bias makes a wrong answer end at once.
    status, _, eos = raw(server, "POST", "/tokenize", {"prompt": "<|im_end|>"})
    assert status == 200 and eos["count"] == 1
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=HELLO, max_tokens=2048,
                                       logit_bias={str(eos["tokens"][0]): 100})
    assert "2048" in caught.value.body["message"]


def test_wrong_key_is_authentication_error(server, model):
    bad = openai.OpenAI(base_url=server.base_url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model=model, messages=HELLO, max_tokens=2)
    assert caught.value.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    bad.close()


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=HELLO, max_tokens=2)
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt="Hi", max_tokens=2)


def test_third_request_in_a_minute_is_rate_limited(server, model):
    limited = openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.limited_key,
                            max_retries=0)
    for _ in range(2):
        limited.completions.create(model=model, prompt="Hi", max_tokens=1)
    with pytest.raises(openai.RateLimitError) as caught:
        limited.completions.create(model=model, prompt="Hi", max_tokens=1)
    assert caught.value.status_code == 429
    retry_after = caught.value.response.headers.get("retry-after")
    assert retry_after is not None, "a 429 must say when to retry"
    assert 1 <= int(retry_after) <= 60
    limited.close()


# --- vLLM's /tokenize and /detokenize --------------------------------------------------------


def test_tokenize_detokenize_round_trip(client, model, server):
    text = "Hello world, troupe serves tokens: 123 + émoji ✓"
    status, _, tokenized = raw(server, "POST", "/tokenize", {"prompt": text})
    assert status == 200
    tokens = tokenized["tokens"]
    assert tokens and all(isinstance(t, int) for t in tokens)
    assert tokenized["count"] == len(tokens)
    assert tokenized["max_model_len"] == 2048
    status, _, detokenized = raw(server, "POST", "/detokenize", {"tokens": tokens})
    assert status == 200
    assert detokenized["prompt"] == text
    # The prompt the generation routes count is the same tokenization.
    usage = client.completions.create(model=model, prompt=text, max_tokens=1).usage
    assert usage.prompt_tokens == len(tokens)


def test_tokenize_errors(server):
    status, _, body = raw(server, "POST", "/tokenize", {"text": "no prompt field"})
    assert status == 400 and body["error"]["param"] == "prompt"
    status, _, body = raw(server, "POST", "/detokenize", {"tokens": [-1]})
    assert status == 400 and body["error"]["param"] == "tokens"
    status, _, _ = raw(server, "POST", "/tokenize", {"prompt": "hi"}, key=None)
    assert status == 401


# --- the usage ledger (last: it counts what the tests above did) -----------------------------


def usage_rows(server):
    result = subprocess.run([os.environ["TROUPE_BIN"], "usage", "--db", server.usage_db,
                             "--json"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return {row["key"]: row for row in json.loads(result.stdout)}


def test_usage_ledger_counts_this_module(client, model, server):
    client.chat.completions.create(model=model, messages=HELLO, max_tokens=2)
    made = generations_ok["count"]
    # The ledger is written just after each answer is sent: wait for the last one to land.
    deadline = time.monotonic() + 10
    while True:
        rows = usage_rows(server)
        if rows.get("test", {}).get("requests", 0) >= made or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "test" in rows, rows
    row = rows["test"]
    assert row["requests"] >= made
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
    assert row["first_seen"] <= row["last_seen"]
