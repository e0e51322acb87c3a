#!/usr/bin/env python3
"""The default model (a quantized GGUF) in BF16, for the peers of bench/peers/setup-vllm:

    gguf_to_hf.py hf SOURCE.gguf OUT_DIR      with the vLLM venv's python (transformers, gguf):
        a Hugging Face directory vLLM serves: config, BF16 safetensors, the tokenizer and its chat
        template, the weights as transformers dequantizes them
    gguf_to_hf.py gguf-bf16 SOURCE.gguf OUT   with the llama.cpp peer's python (bench/peers/env):
        the same weights as a BF16 GGUF, 1-D norms in F32, all metadata kept
        (bench/reference/make_f32_fixtures.py's writer, so troupe can run the weights vLLM runs)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def to_hf(source: str, out: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder, name = os.path.split(os.path.abspath(source))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # A plain Llama of the same shape, so that nothing of the GGUF loading (its file name,
    # quantization notes) is left in config.json for vLLM to act on.
    keep = {k: v for k, v in loaded.config.to_dict().items() if "gguf" not in k and k != "quantization_config"}
    config = LlamaConfig(**keep)
    config.architectures = ["LlamaForCausalLM"]
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model = model.to(torch.bfloat16).eval()
    model.config.dtype = torch.bfloat16
    if not tokenizer.chat_template:
        sys.exit("the GGUF's tokenizer has no chat template")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)

    # Sanity: the BF16 copy predicts what the F32 weights predict on a chat prompt.
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        a = loaded(**ids).logits[0].argmax(-1)
        b = model(**ids).logits[0].argmax(-1)
        reply = model.generate(**ids, max_new_tokens=12, do_sample=False)[0, ids["input_ids"].shape[1]:]
    print(f"{out}: top-1 agreement F32 vs BF16 {(a == b).float().mean().item():.3f} over "
          f"{a.numel()} positions; greedy reply {tokenizer.decode(reply, skip_special_tokens=True)!r}")


def to_gguf_bf16(source: str, out: str) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))
    from make_f32_fixtures import write_f32

    write_f32(source, out, bf16=True)
    print(f"{out}: {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("hf", "gguf-bf16"):
        sys.exit(__doc__)
    (to_hf if sys.argv[1] == "hf" else to_gguf_bf16)(sys.argv[2], sys.argv[3])
