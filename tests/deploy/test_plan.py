"""troupe plan on the command line: the default model's GGUF (23,040 bytes of F16 KV per token,
its parameters as its tensors sum), Llama-3.1-8B from its published config.json (131,072), the
JSON form for tools, and memory too small for the model: one line, exit 2."""
import json
import os
import pathlib
import subprocess

TROUPE = os.path.abspath(os.environ["TROUPE_BIN"])
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "hf"


def plan(*args):
    return subprocess.run([TROUPE, "plan", *args], capture_output=True, text=True, timeout=60)


def test_the_default_model():
    result = plan("--device-memory", "2GiB", "--max-model-len", "2048", "--json")
    assert result.returncode == 0, result.stderr
    p = json.loads(result.stdout)
    assert p["kv_bytes_per_token"] == 23040
    assert (p["layers"], p["kv_heads"], p["head_dim"]) == (30, 3, 64)
    assert p["parameters"] == 134515008
    assert p["kv_tokens"] == p["kv_cache_bytes"] // 23040
    assert p["concurrent_sequences"] == p["kv_tokens"] // 2048
    assert p["memory_request_bytes"] == p["weight_bytes"] + p["kv_cache_bytes"] + (512 << 20)
    text = plan("--device-memory", "2GiB").stdout
    assert "KV per token    23,040 bytes" in text, text


def test_a_published_config():
    result = plan("--hf-config", str(FIXTURES / "Llama-3.1-8B-config.json"), "--device",
                  "cuda", "--device-memory", "80GiB", "--max-model-len", "8192", "--json")
    assert result.returncode == 0, result.stderr
    p = json.loads(result.stdout)
    assert p["kv_bytes_per_token"] == 131072
    assert p["parameters"] == 8030261248
    assert p["weight_bytes"] == 2 * 8030261248


def test_memory_too_small_is_one_line_and_exit_2():
    result = plan("--hf-config", str(FIXTURES / "Llama-3.1-8B-config.json"),
                  "--device-memory", "12GiB", "--max-model-len", "8192")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not fit in 12.00 GiB" in lines[0], result.stderr
    assert "quantized to Q8_0" in lines[0]
    result = plan("--device-memory", "100MiB")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    result = plan()
    assert result.returncode == 2 and "--device-memory BYTES is required" in result.stderr


def test_tensor_parallel_sizes_per_rank_figures_and_a_size_that_does_not_split():
    p = json.loads(plan("--device-memory", "2GiB", "--max-model-len", "2048",
                        "--tensor-parallel-size", "3", "--json").stdout)
    assert p["valid_tensor_parallel_sizes"] == [1, 3]
    assert p["kv_bytes_per_token_per_rank"] == 7680  # 2 x 30 x 1 KV head x 64 x 2
    result = plan("--device-memory", "2GiB", "--tensor-parallel-size", "2")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "valid sizes: 1, 3" in lines[0], result.stderr
    p = json.loads(plan("--hf-config", str(FIXTURES / "Llama-3.1-8B-config.json"), "--device",
                        "cuda", "--device-memory", "8GiB", "--max-model-len", "8192",
                        "--devices", "8", "--json").stdout)
    assert p["tensor_parallel_size"] == 4 and p["kv_bytes_per_token_per_rank"] == 32768


def test_a_bad_config_json_is_one_line_naming_the_file_and_key(tmp_path):
    """The reading of config.json (cli/hf_config): each problem names the file and the key."""
    published = (FIXTURES / "Llama-3.1-8B-config.json").read_text()
    cases = [
        ("[1]", "c.json is not a JSON object"),
        ("not json", "c.json is not a JSON object"),
        ('{"hidden_size": 8}', "c.json has no 'num_hidden_layers'"),
        (published.replace('"hidden_size": 4096', '"hidden_size": -1'),
         "c.json: 'hidden_size' must be a positive integer"),
    ]
    for text, message in cases:
        config = tmp_path / "c.json"
        config.write_text(text)
        result = subprocess.run([TROUPE, "plan", "--hf-config", "c.json", "--device-memory",
                                 "80GiB"], capture_output=True, text=True, timeout=60,
                                cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == "troupe: " + message, result.stderr
    result = plan("--hf-config", str(FIXTURES / "Llama-3.1-8B-config.json"), "--weight-type",
                  "Q3_K", "--device-memory", "80GiB")
    assert result.returncode == 2 and "unknown weight type 'Q3_K'" in result.stderr
    p = json.loads(plan("--hf-config", str(FIXTURES / "SmolLM2-135M-Instruct-config.json"),
                        "--device-memory", "2GiB", "--json").stdout)
    assert p["parameters"] == 134515008  # tied embeddings: no separate output matrix
