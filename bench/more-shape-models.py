#!/usr/bin/env python3
"""Writes GGUF models with the shapes of two more families users run, beside ../shared/tools/make-shape-models.py
(whose tokenizer copy it reuses): seeded random weights, speed only. Quantize the result with llama-quantize.

  gemma-3-1b    Gemma 3 1B: gemma3, dim 1152, 26 layers, 4 heads / 1 KV head of 256, GeGLU 6912, q/k norms, post
                norms, sliding window 512 on five layers of six, tied 262,144-row embedding (Gemma 4's vocabulary
                from ../shared/vocab: Gemma 3's has the same 262,144 entries).
  phi-3.5-mini  Phi-3.5-mini: phi3, dim 3072, 32 layers, 32 heads of 96 (no GQA), fused QKV and gate/up (8192),
                LongRoPE factors (original context 4096), untied 32,064-row output.

Usage: more-shape-models.py OUT_DIR SHAPE...   (Debian's python3: needs numpy; gguf-py as make-shape-models.py)
"""
import importlib.util, math, os, sys, zlib
from pathlib import Path

here = Path(__file__).resolve().parent
shared_tools = Path(os.environ.get("INKWELL_SHARED", here.parent.parent / "shared")) / "tools"
spec = importlib.util.spec_from_file_location("make_shape_models", shared_tools / "make-shape-models.py")
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)  # puts gguf-py on sys.path too
np, gguf = base.np, base.gguf

SHAPES = {
    "gemma-3-1b": dict(arch="gemma3", dim=1152, layers=26, heads=4, kv=1, hd=256, ffn=6912, theta=1e6, eps=1e-6,
                       vocab="ggml-vocab-gemma-4.gguf", ctx=32768, window=512),
    "phi-3.5-mini": dict(arch="phi3", dim=3072, layers=32, heads=32, kv=32, hd=96, ffn=8192, theta=1e4, eps=1e-5,
                         vocab="ggml-vocab-phi-3.gguf", ctx=131072, original_ctx=4096),
}


def make(out_dir, shape):
    s = SHAPES[shape]
    path = Path(out_dir) / f"{shape}-f16.gguf"
    arch, d, hd = s["arch"], s["dim"], s["hd"]
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"{shape} shape (random weights)")
    n_vocab = base.copy_tokenizer(w, str(shared_tools.parent / "vocab" / s["vocab"]))
    w.add_context_length(s["ctx"]); w.add_embedding_length(d); w.add_block_count(s["layers"])
    w.add_feed_forward_length(s["ffn"]); w.add_head_count(s["heads"]); w.add_head_count_kv(s["kv"])
    w.add_rope_freq_base(s["theta"]); w.add_layer_norm_rms_eps(s["eps"]); w.add_rope_dimension_count(hd)
    w.add_key_length(hd); w.add_value_length(hd); w.add_vocab_size(n_vocab)
    if arch == "gemma3":
        w.add_sliding_window(s["window"])
    else:
        # LongRoPE as Phi-3.5's config.json gives it: factors per dimension pair, and the attention factor
        # sqrt(1 + ln(ctx / original) / ln(original)) that llama.cpp's converter writes.
        w.add_rope_scaling_orig_ctx_len(s["original_ctx"])
        w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(s["ctx"] / s["original_ctx"]) / math.log(s["original_ctx"])))
    w.add_file_type(1)
    rng = np.random.default_rng(zlib.crc32(shape.encode()))
    tensors = []  # (name, numpy shape, std | "ones" | "long" | "short")

    def t(name, rows, cols=None, std=0.02):
        tensors.append((name, (rows,) if cols is None else (rows, cols), std))
    t("token_embd.weight", n_vocab, d)
    if arch == "phi3":
        t("rope_factors_long.weight", hd // 2, std="long"); t("rope_factors_short.weight", hd // 2, std="short")
    q, kv = s["heads"] * hd, s["kv"] * hd
    for i in range(s["layers"]):
        p = f"blk.{i}."
        t(p + "attn_norm.weight", d, std="ones")
        if arch == "phi3":
            t(p + "attn_qkv.weight", q + 2 * kv, d)
        else:
            t(p + "attn_q.weight", q, d); t(p + "attn_k.weight", kv, d); t(p + "attn_v.weight", kv, d)
            t(p + "attn_q_norm.weight", hd, std="ones"); t(p + "attn_k_norm.weight", hd, std="ones")
        t(p + "attn_output.weight", d, q)
        if arch == "gemma3":
            t(p + "post_attention_norm.weight", d, std="ones")
        t(p + "ffn_norm.weight", d, std="ones")
        if arch == "phi3":
            t(p + "ffn_up.weight", 2 * s["ffn"], d)
        else:
            t(p + "ffn_gate.weight", s["ffn"], d); t(p + "ffn_up.weight", s["ffn"], d)
        t(p + "ffn_down.weight", d, s["ffn"])
        if arch == "gemma3":
            t(p + "post_ffw_norm.weight", d, std="ones")
    t("output_norm.weight", d, std="ones")
    if arch == "phi3":
        t("output.weight", n_vocab, d)

    def is_f32(shp):
        return len(shp) == 1
    for name, shp, std in tensors:
        dt = np.float32 if is_f32(shp) else np.float16
        w.add_tensor_info(name, shp, np.dtype(dt), int(np.prod(shp)) * np.dtype(dt).itemsize)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_ti_data_to_file()
    for name, shp, std in tensors:
        if std == "ones":
            a = np.ones(shp, dtype=np.float32)
        elif std in ("long", "short"):
            # Phi-3.5's short factors are near 1, its long ones rise from 1 to about 60 across the pairs.
            ramp = np.linspace(0.0, 1.0, shp[0], dtype=np.float32)
            a = (1.0 + ramp * 0.1) if std == "short" else (1.0 + ramp * 59.0)
        else:
            a = rng.standard_normal(shp, dtype=np.float32) * std
        if not is_f32(shp):
            a = a.astype(np.float16)
        w.write_tensor_data(a)
        del a
    w.close()
    print(path)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 2 or any(a not in SHAPES for a in args[1:]):
        sys.exit(__doc__)
    os.makedirs(args[0], exist_ok=True)
    for shape in args[1:]:
        make(args[0], shape)
