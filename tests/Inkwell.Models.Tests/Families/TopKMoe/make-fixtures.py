#!/usr/bin/env python3
"""Writes tiny random-weight GGUF models whose experts are really chosen (8 experts, top 2), which
shared/arch-models lacks (test-llama-archs builds 2 experts, both used), and the logits llama.cpp computes for them.

Usage: /usr/bin/python3 make-fixtures.py [LLAMA_BIN_DIR]   (Debian's python3 with numpy; gguf-py from the peer in
$HOME/.cache/llama-cpp-peer/src/gguf-py or GGUF_PY; LLAMA_BIN_DIR holds llama-logits, default the peer's build/bin)
Writes, beside this script, <name>.gguf and <name>.logits.json (llama-logits MODEL TOKENS 16) for:
  qwen3moe-top2of8   qwen3moe (q/k norms, expert_feed_forward_length)
  mixtral-top2of8    llama with experts (Mixtral: interleaved RoPE, experts of feed_forward_length)
  granite-top2of8    granite with experts, a shared expert and Granite's multipliers
  qwen2moe-top2of8   qwen2moe (Q/K/V biases, no renormalization, a shared expert behind a sigmoid gate)
"""
import os, subprocess, sys
from pathlib import Path

peer = Path.home() / ".cache/llama-cpp-peer/src"
sys.path.insert(0, os.environ.get("GGUF_PY", str(peer / "gguf-py")))
import numpy as np  # noqa: E402
import gguf  # noqa: E402

here = Path(__file__).resolve().parent
DIM, HEADS, KV, HD, LAYERS, VOCAB, EXPERTS, USED, EFFN, SHARED = 32, 4, 2, 8, 2, 128, 8, 2, 16, 24
TOKENS = [5, 77, 12, 101, 3, 64, 90, 27, 33, 118, 8, 45, 60, 2, 99, 71]


def make(name, arch):
    path = here / f"{name}.gguf"
    w = gguf.GGUFWriter(str(path), arch)
    w.add_context_length(256); w.add_embedding_length(DIM); w.add_block_count(LAYERS)
    w.add_feed_forward_length(EFFN if arch != "qwen3moe" else 4 * EFFN)
    w.add_head_count(HEADS); w.add_head_count_kv(KV); w.add_key_length(HD); w.add_value_length(HD)
    w.add_rope_dimension_count(HD); w.add_rope_freq_base(10000.0); w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(VOCAB); w.add_expert_count(EXPERTS); w.add_expert_used_count(USED)
    if arch in ("qwen3moe", "qwen2moe"):
        w.add_expert_feed_forward_length(EFFN)
    if arch == "qwen2moe":
        w.add_expert_shared_feed_forward_length(SHARED)
    if arch == "granite":
        w.add_expert_shared_feed_forward_length(SHARED)
        w.add_embedding_scale(2.0); w.add_residual_scale(0.5); w.add_attention_scale(0.125); w.add_logit_scale(4.0)
    # The placeholder vocabulary of llama.cpp's own test models: ids only, no tokenizer.
    w.add_tokenizer_model("test")
    w.add_token_list([f"tok_{i}" for i in range(VOCAB)])
    w.add_token_types([1] * VOCAB)
    w.add_token_scores([0.0] * VOCAB)
    rng = np.random.default_rng(len(name))

    def t(tname, *shape, ones=False):
        a = np.ones(shape, np.float32) if ones else (rng.standard_normal(shape, dtype=np.float32) * 0.1)
        w.add_tensor(tname, a)
    t("token_embd.weight", VOCAB, DIM)
    for i in range(LAYERS):
        p = f"blk.{i}."
        t(p + "attn_norm.weight", DIM, ones=True)
        t(p + "attn_q.weight", HEADS * HD, DIM); t(p + "attn_k.weight", KV * HD, DIM)
        t(p + "attn_v.weight", KV * HD, DIM); t(p + "attn_output.weight", DIM, HEADS * HD)
        if arch == "qwen2moe":
            t(p + "attn_q.bias", HEADS * HD); t(p + "attn_k.bias", KV * HD); t(p + "attn_v.bias", KV * HD)
        if arch == "qwen3moe":
            t(p + "attn_q_norm.weight", HD, ones=True); t(p + "attn_k_norm.weight", HD, ones=True)
        t(p + "ffn_norm.weight", DIM, ones=True)
        t(p + "ffn_gate_inp.weight", EXPERTS, DIM)
        t(p + "ffn_gate_exps.weight", EXPERTS, EFFN, DIM); t(p + "ffn_up_exps.weight", EXPERTS, EFFN, DIM)
        t(p + "ffn_down_exps.weight", EXPERTS, DIM, EFFN)
        if arch == "qwen2moe":
            t(p + "ffn_gate_inp_shexp.weight", DIM)
        if arch in ("granite", "qwen2moe"):
            t(p + "ffn_gate_shexp.weight", SHARED, DIM); t(p + "ffn_up_shexp.weight", SHARED, DIM)
            t(p + "ffn_down_shexp.weight", DIM, SHARED)
    t("output_norm.weight", DIM, ones=True)
    t("output.weight", VOCAB, DIM)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    return path


if __name__ == "__main__":
    bin_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else peer / "build/bin"
    for name, arch in [("qwen3moe-top2of8", "qwen3moe"), ("mixtral-top2of8", "llama"), ("granite-top2of8", "granite"),
                       ("qwen2moe-top2of8", "qwen2moe")]:
        model = make(name, arch)
        out = subprocess.run([str(bin_dir / "llama-logits"), str(model), ",".join(map(str, TOKENS)), "16"],
                             check=True, capture_output=True, text=True, env={**os.environ, "LD_LIBRARY_PATH": str(bin_dir)}).stdout
        (here / f"{name}.logits.json").write_text(out)
        print(model, os.path.getsize(model))
