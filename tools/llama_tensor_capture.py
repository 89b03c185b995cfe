#!/usr/bin/env python3
# Debugging aid for numeric parity (issue 3): dumps llama.cpp intermediate
# tensors (e.g. WANT="attn_norm-0,Qcur-0,kq-3,kqv_out-3") through the cb_eval
# callback of llama-cpp-python 0.3.36, as .f32 files to compare with frugal's
# intermediates layer by layer. It reads struct ggml_tensor fields by offset
# (type at 0, ne at 16, nb at 48 in that ggml version): recheck the offsets
# when llama-cpp-python changes. Never needed to build or test frugal.
import sys, os, ctypes, numpy as np, llama_cpp
model_path, outdir = sys.argv[1], sys.argv[2]
ids = [int(x) for x in sys.argv[3:]]
os.makedirs(outdir, exist_ok=True)
libdir = os.path.join(os.path.dirname(llama_cpp.__file__), 'lib')
gb = ctypes.CDLL(os.path.join(libdir, 'libggml-base.so'))
gb.ggml_get_name.restype = ctypes.c_char_p; gb.ggml_get_name.argtypes = [ctypes.c_void_p]
gb.ggml_get_data.restype = ctypes.c_void_p; gb.ggml_get_data.argtypes = [ctypes.c_void_p]
want = os.environ.get('WANT', '')
wanted = set(want.split(',')) if want else None
seen = []
cnt = {}
def cb(t, ask, ud):
    name = gb.ggml_get_name(t).decode()
    if ask:
        return True
    typ = ctypes.c_int32.from_address(t).value
    ne = [ctypes.c_int64.from_address(t + 16 + 8*i).value for i in range(4)]
    nb = [ctypes.c_uint64.from_address(t + 48 + 8*i).value for i in range(4)]
    seen.append((name, typ, ne))
    if typ != 0: return True
    if wanted is not None and name not in wanted: return True
    data = gb.ggml_get_data(t)
    if not data: return True
    # gather with strides (F32)
    maxoff = sum((ne[i]-1)*nb[i] for i in range(4)) + 4
    buf = (ctypes.c_uint8 * maxoff).from_address(data)
    raw = np.frombuffer(buf, dtype=np.uint8)
    arr = np.lib.stride_tricks.as_strided(raw.view(np.float32) if False else np.frombuffer(buf, dtype=np.float32, count=maxoff//4) , shape=ne[::-1], strides=nb[::-1])
    cnt[name] = cnt.get(name, -1) + 1
    fn = name if cnt[name] == 0 else f'{name}#{cnt[name]}'
    np.save(os.path.join(outdir, fn + '.npy'), np.array(arr))
    return True
CB = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_bool, ctypes.c_void_p)
cbf = CB(cb)
llama_cpp.llama_backend_init()
mp = llama_cpp.llama_model_default_params()
model = llama_cpp.llama_model_load_from_file(model_path.encode(), mp)
cp = llama_cpp.llama_context_default_params()
cp.n_ctx = 256; cp.n_batch = 512; cp.n_ubatch = 512; cp.n_threads = 2; cp.n_threads_batch = 2
cp.type_k = 0; cp.type_v = 0
try: cp.flash_attn_type = 0
except Exception: pass
try: cp.flash_attn = False
except Exception: pass
cp.cb_eval = ctypes.cast(cbf, type(cp.cb_eval)) if True else None
cp.cb_eval_user_data = None
ctx = llama_cpp.llama_init_from_model(model, cp)
batch = llama_cpp.llama_batch_init(len(ids), 0, 1)
batch.n_tokens = len(ids)
for i, t in enumerate(ids):
    batch.token[i] = t; batch.pos[i] = i; batch.n_seq_id[i] = 1; batch.seq_id[i][0] = 0; batch.logits[i] = 1
rc = llama_cpp.llama_decode(ctx, batch)
print('decode rc', rc)
nv = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
lg = llama_cpp.llama_get_logits(ctx)
logits = np.ctypeslib.as_array(lg, shape=(len(ids) * nv,)).reshape(len(ids), nv).copy()
np.save(os.path.join(outdir, 'logits.npy'), logits)
with open(os.path.join(outdir, 'names.txt'), 'w') as f:
    for s in seen: f.write(f'{s[0]} {s[1]} {s[2]}\n')
