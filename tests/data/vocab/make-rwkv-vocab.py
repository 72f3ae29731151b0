# Writes ggml-vocab-rwkv-mini.gguf: a small vocabulary-only GGUF with tokenizer.ggml.model = "rwkv" (tokens written in
# RWKV's escaped form: \t \n \r \\ \xHH), in a gpt2 container llama.cpp can load with vocab_only. Its .out is then
# llama.cpp's output (../pretokenizers/llama-tokenize-cases.cpp) for ggml-vocab-rwkv-mini.gguf.inp.
import struct

def escape(data: bytes) -> str:
    out = []
    for b in data:
        c = chr(b)
        if c == '\t': out.append('\\t')
        elif c == '\n': out.append('\\n')
        elif c == '\r': out.append('\\r')
        elif c == '\\': out.append('\\\\')
        elif 32 <= b < 127: out.append(c)
        else: out.append('\\x%02x' % b)
    return ''.join(out)

pieces = [escape(bytes([b])) for b in range(256)]
words = [b'th', b'the', b' the', b'he', b'\n\n', b'hello', b' world', b'wor', b'ld', b'  ', b'    ', b'in', b'ing',
         'é'.encode(), 'ü'.encode(), 'über'.encode(), '日本'.encode(), '🦙'.encode(), b'\x00\x01', b'ab', b'abc', b'bcd']
pieces += [escape(w) for w in words]

def s(x):
    b = x.encode('utf-8'); return struct.pack('<Q', len(b)) + b
def kv_str(k, v): return s(k) + struct.pack('<I', 8) + s(v)
def kv_u32(k, v): return s(k) + struct.pack('<I', 4) + struct.pack('<I', v)
def kv_f32(k, v): return s(k) + struct.pack('<I', 6) + struct.pack('<f', v)
def kv_strs(k, vs): return s(k) + struct.pack('<II', 9, 8) + struct.pack('<Q', len(vs)) + b''.join(s(v) for v in vs)
def kv_i32s(k, vs): return s(k) + struct.pack('<II', 9, 5) + struct.pack('<Q', len(vs)) + b''.join(struct.pack('<i', v) for v in vs)
kvs = [kv_str('general.architecture', 'gpt2'), kv_str('general.name', 'rwkv-mini'),
       kv_u32('gpt2.block_count', 1), kv_u32('gpt2.context_length', 64), kv_u32('gpt2.embedding_length', 8),
       kv_u32('gpt2.feed_forward_length', 8), kv_u32('gpt2.attention.head_count', 1),
       kv_f32('gpt2.attention.layer_norm_epsilon', 1e-5),
       kv_str('tokenizer.ggml.model', 'rwkv'), kv_strs('tokenizer.ggml.tokens', pieces),
       kv_i32s('tokenizer.ggml.token_type', [1] * len(pieces))]
with open('ggml-vocab-rwkv-mini.gguf', 'wb') as f:
    f.write(b'GGUF' + struct.pack('<IQQ', 3, 0, len(kvs)) + b''.join(kvs))

sep = '\n__ggml_vocab_test__\n'
cases = ['the hello world', 'thethe  the\n\n\n', 'über é ü 日本語 🦙🦙', 'abcd bcd abc\t\r\n', '\\ backslash \\\\', '    four    ',
         'ingthing', '\x00\x01\x02 control']
open('ggml-vocab-rwkv-mini.gguf.inp', 'w', encoding='utf-8', newline='').write(''.join(c + sep for c in cases))
