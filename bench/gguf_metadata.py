"""Copying a GGUF's metadata with llama.cpp's gguf-py (the peer venv's: bench/peers/setup), for
the scripts that write a GGUF from another: bench/make_random_gguf.py (another shape, the same
vocabulary) and bench/reference/make_f32_fixtures.py (the same model in F32)."""
import gguf


def copy_metadata(reader: "gguf.GGUFReader", writer: "gguf.GGUFWriter", skip=()) -> None:
    """Every key of `reader` but GGUF's own, the architecture (the writer has it) and `skip`."""
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture" or name in skip:
            continue
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(name, field.contents(), kind, sub_type=field.types[-1])
        else:
            writer.add_key_value(name, field.contents(), kind)
