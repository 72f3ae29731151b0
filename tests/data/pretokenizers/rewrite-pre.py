# usage: rewrite-pre.py IN.gguf OUT.gguf model pre  -- copies a vocabulary-only GGUF with tokenizer.ggml.model/pre replaced
import struct, sys
src, dst, model, pre = sys.argv[1:5]
data = open(src, 'rb').read()
pos = 0
def take(n):
    global pos; b = data[pos:pos+n]; pos += n; return b
def u32(): return struct.unpack('<I', take(4))[0]
def u64(): return struct.unpack('<Q', take(8))[0]
SIZES = {0:1,1:1,2:2,3:2,4:4,5:4,6:4,7:1,10:8,11:8,12:8}
def skip_val(t):
    if t == 8: n = u64(); take(n)
    elif t == 9:
        et = u32(); n = u64()
        if et == 8:
            for _ in range(n): m = u64(); take(m)
        else: take(SIZES[et]*n)
    else: take(SIZES[t])
assert take(4) == b'GGUF'; ver = u32(); nt = u64(); nkv = u64()
assert nt == 0, 'expects a vocabulary-only file'
out = [b'GGUF', struct.pack('<IQQ', ver, 0, nkv + (0 if b'tokenizer.ggml.pre' in data else 1))]
def s(x): b = x.encode(); return struct.pack('<Q', len(b)) + b
seen_pre = False
for _ in range(nkv):
    start = pos; klen = u64(); key = take(klen).decode(); t = u32(); skip_val(t)
    if key == 'tokenizer.ggml.model': out.append(s(key) + struct.pack('<I', 8) + s(model))
    elif key == 'tokenizer.ggml.pre': out.append(s(key) + struct.pack('<I', 8) + s(pre)); seen_pre = True
    else: out.append(data[start:pos])
if not seen_pre: out.append(s('tokenizer.ggml.pre') + struct.pack('<I', 8) + s(pre))
open(dst, 'wb').write(b''.join(out))
