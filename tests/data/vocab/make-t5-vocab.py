# Writes ggml-vocab-t5-mini.gguf and ggml-vocab-t5-mini-merge.gguf: small vocabulary-only GGUFs with
# tokenizer.ggml.model = "t5" (llama.cpp's Unigram), no precompiled charsmap, the first with add_space_prefix, the second
# with remove_extra_whitespaces too; plus their .inp. Each .out is llama.cpp's output for them, from
# ../pretokenizers/llama-tokenize-cases.cpp.
import struct

pieces = [('<pad>', 0.0, 3), ('</s>', 0.0, 3), ('<unk>', 0.0, 2), ('<extra_id_0>', 0.0, 4)]
normal = ['▁', '▁the', '▁hello', '▁world', 'he', 'llo', 'h', 'e', 'l', 'o', 'w', 'r', 'd', 't', '▁t', '▁h', '▁w', 'wor', 'ld',
          'é', 'ü', 'ber', '▁ü', '▁über', '日', '本', '語', 'a', 'b', 'c', 'ab', 'bc', 'abc', '▁a', '▁ab', 'x', 'y', 'z', 'n', 'k', 'q',
          'u', 'hello', 'world', '\t', '\n']
for i, p in enumerate(normal):
    pieces.append((p, -1.0 - 0.37 * i - (0.5 if len(p) == 1 else 0.0), 1))

def s(x):
    b = x.encode('utf-8'); return struct.pack('<Q', len(b)) + b
def kv_str(k, v): return s(k) + struct.pack('<I', 8) + s(v)
def kv_u32(k, v): return s(k) + struct.pack('<I', 4) + struct.pack('<I', v)
def kv_bool(k, v): return s(k) + struct.pack('<I', 7) + struct.pack('<?', v)
def kv_f32(k, v): return s(k) + struct.pack('<I', 6) + struct.pack('<f', v)
def kv_strs(k, vs): return s(k) + struct.pack('<II', 9, 8) + struct.pack('<Q', len(vs)) + b''.join(s(v) for v in vs)
def kv_i32s(k, vs): return s(k) + struct.pack('<II', 9, 5) + struct.pack('<Q', len(vs)) + b''.join(struct.pack('<i', v) for v in vs)
def kv_f32s(k, vs): return s(k) + struct.pack('<II', 9, 6) + struct.pack('<Q', len(vs)) + b''.join(struct.pack('<f', v) for v in vs)

sep = '\n__ggml_vocab_test__\n'
cases = ['the hello world', '  hello   world  ', 'über é 日本語 🦙', 'abc ab bc abcabc', 'unknownxyz q', 'hello<extra_id_0>world',
         '\thello\nworld\n', 'h e l l o', '']
for name, merge in (('t5-mini', False), ('t5-mini-merge', True)):
    kvs = [kv_str('general.architecture', 'gpt2'), kv_str('general.name', name),
           kv_u32('gpt2.block_count', 1), kv_u32('gpt2.context_length', 64), kv_u32('gpt2.embedding_length', 8),
           kv_u32('gpt2.feed_forward_length', 8), kv_u32('gpt2.attention.head_count', 1),
           kv_f32('gpt2.attention.layer_norm_epsilon', 1e-5),
           kv_str('tokenizer.ggml.model', 't5'), kv_strs('tokenizer.ggml.tokens', [p for p, _, _ in pieces]),
           kv_f32s('tokenizer.ggml.scores', [sc for _, sc, _ in pieces]), kv_i32s('tokenizer.ggml.token_type', [t for _, _, t in pieces]),
           kv_bool('tokenizer.ggml.add_space_prefix', True), kv_bool('tokenizer.ggml.remove_extra_whitespaces', merge)]
    with open(f'ggml-vocab-{name}.gguf', 'wb') as f:
        f.write(b'GGUF' + struct.pack('<IQQ', 3, 0, len(kvs)) + b''.join(kvs))
    open(f'ggml-vocab-{name}.gguf.inp', 'w', encoding='utf-8', newline='').write(''.join(c + sep for c in cases[:-1]))
