"""POST /v1/embeddings (issue 21) through the official `openai` SDK: one and many inputs, the
same text twice gives the same vector, base64 (the SDK's default) decodes to the float list, and
the vectors agree with llama.cpp's embeddings of the same model (tests/fixtures/reference/
embeddings.json, from bench/reference/make_embedding_fixtures.py) for mean and last pooling.
"""
import base64
import json
import math
import os
import struct

import openai
import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                        "reference", "embeddings.json")
REFERENCE = json.load(open(FIXTURES))


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) *
                                                        sum(y * y for y in b))


def floats(client, model, texts, **kwargs):
    r = client.embeddings.create(model=model, input=texts, encoding_format="float", **kwargs)
    return r, [d.embedding for d in r.data]


def test_one_input(client, model):
    r = client.embeddings.create(model=model, input="Hello world")
    assert r.object == "list" and r.model == model and len(r.data) == 1
    v = r.data[0].embedding
    assert r.data[0].index == 0 and len(v) == 576
    assert abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4
    assert r.usage.prompt_tokens == r.usage.total_tokens == REFERENCE["tokens"][0]


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_many_inputs_match_llama_cpp(client, model, pooling):
    texts = REFERENCE["texts"]
    r, vectors = floats(client, model, texts, extra_body={"pooling": pooling})
    assert [d.index for d in r.data] == list(range(len(texts)))
    assert r.usage.prompt_tokens == sum(REFERENCE["tokens"])
    for text, ours, theirs in zip(texts, vectors, REFERENCE["embeddings"][pooling]):
        assert cosine(ours, theirs) > 0.999, text
    # Each text is nearest its own reference vector, not another text's.
    for i, ours in enumerate(vectors):
        scores = [cosine(ours, theirs) for theirs in REFERENCE["embeddings"][pooling]]
        assert max(range(len(scores)), key=scores.__getitem__) == i


def test_same_text_same_vector_alone_or_batched(client, model):
    _, alone = floats(client, model, "The cat sat on the mat.")
    _, batch = floats(client, model, ["A different sentence first.", "The cat sat on the mat.",
                                      "The cat sat on the mat."])
    assert batch[1] == batch[2]
    assert cosine(alone[0], batch[1]) > 0.99999


def test_a_cached_prefix_does_not_change_the_mean(client, model):
    # A chat that leaves this prompt's blocks in the prefix cache: the mean still pools them all.
    text = REFERENCE["texts"][-1]
    client.completions.create(model=model, prompt=text, max_tokens=1)
    _, vectors = floats(client, model, text)
    assert cosine(vectors[0], REFERENCE["embeddings"]["mean"][-1]) > 0.999


def test_base64_decodes_to_the_float_list(client, model):
    _, vectors = floats(client, model, ["Hello world"])
    raw = client.embeddings.with_raw_response.create(model=model, input="Hello world",
                                                     encoding_format="base64")
    encoded = json.loads(raw.text)["data"][0]["embedding"]
    decoded = list(struct.unpack("<576f", base64.b64decode(encoded)))
    assert decoded == vectors[0]
    # The SDK asks for base64 when no format is given and decodes it itself.
    assert client.embeddings.create(model=model, input="Hello world").data[0].embedding == \
        vectors[0]


def test_token_id_inputs(client, model):
    ids = client.post("/../tokenize", body={"prompt": "Hello world"}, cast_to=object)["tokens"]
    _, by_text = floats(client, model, "Hello world")
    _, by_ids = floats(client, model, [ids])
    assert cosine(by_text[0], by_ids[0]) > 0.99999


@pytest.mark.parametrize("body,param", [
    ({}, "input"),
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["ok", ""]}, "input[1]"),
    ({"input": [[1, -2]]}, "input[0]"),
    ({"input": [1, -2]}, "input"),
    ({"input": ["a"] * 513}, "input"),
    ({"input": "hi", "encoding_format": "hex"}, "encoding_format"),
    ({"input": "hi", "dimensions": 64}, "dimensions"),
    ({"input": "hi", "pooling": "cls"}, "pooling"),
    ({"input": "hi", "model": "other"}, "model"),
])
def test_bad_requests_name_the_field(client, body, param):
    with pytest.raises((openai.BadRequestError, openai.NotFoundError)) as err:
        client.post("/embeddings", body=body, cast_to=object)
    assert err.value.body["param"] == param, err.value.body


def test_too_long_an_input_is_a_context_length_error(client, model):
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model=model, input="word " * 3000)
    assert err.value.body["code"] == "context_length_exceeded"
    assert err.value.body["param"] == "input"
