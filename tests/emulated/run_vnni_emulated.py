#!/usr/bin/env python3
"""Runs the VNNI kernel tables on emulated x86 CPUs (tests/emulated/README.md).

The machines this project is built on may lack AVX512-VNNI and AVX-VNNI, and
QEMU's user-mode emulator implements neither, so the kernels that use them
run here on Bochs' CPU model through bochscpu-python (PyPI). The module
vnni_cases.cpp (built as build/tests/frugal_vnni_emulated.so) describes each
case; this driver executes its kernel calls on the emulated CPU, with every
page they touch mapped at its own address (guest virtual = this process's
virtual address, each backed by this process's page), so the kernels read the
module's buffers and write their results straight into them.

For each emulated CPU model the driver checks that
  - the project's CPU detection (detect_cpu_features, run on the model) finds
    exactly the VNNI extensions the model has;
  - every case of each table the model can run gives the AVX2 kernels' bits;
  - a table the model cannot run stops at its first VNNI instruction with
    #UD: the emulator enforces the model, so passing cases mean something.

Usage: run_vnni_emulated.py MODULE   (run by scripts/test_vnni_emulated.sh,
which installs bochscpu-python and builds the preload shim it needs).
Exit status 0 when every check passes.
"""
import ctypes
import os
import subprocess
import sys

PAGE = 4096
MASK64 = (1 << 64) - 1

# Bochs CPU models by the index of its cpudb list that the shim selects
# (bochscpu_shim.c), with the features the project must detect on them.
MODELS = [
    # (index, name, avx512_vnni, avx_vnni)
    (24, "Haswell (Core i7-4770)", False, False),
    (26, "Skylake-X (Core i7-7800X)", False, False),
    (28, "Ice Lake (Core i7-1065G7)", True, False),
    (30, "Sapphire Rapids (Xeon w9-3475X)", True, True),
    (31, "Arrow Lake (Core Ultra 5 245K)", False, True),
]
FEATURE_BITS = {"avx": 1, "avx2": 2, "fma": 4, "f16c": 8, "avx512_vnni": 16, "avx_vnni": 32}
VECTOR_UD = 6
VECTOR_PF = 14


class EmuCall(ctypes.Structure):
    _fields_ = [("fn", ctypes.c_uint64), ("args", ctypes.c_uint64 * 10),
                ("nargs", ctypes.c_int32), ("returns_float", ctypes.c_int32)]


class EmuCase(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 96), ("ncalls", ctypes.c_int32),
                ("calls", EmuCall * 4), ("nregions", ctypes.c_int32),
                ("regions", (ctypes.c_uint64 * 2) * 8)]


class Emulator:
    """Calls native functions of this process on Bochs' CPU (64-bit mode,
    ring 3, identity-mapped pages)."""

    def __init__(self):
        import bochscpu
        import bochscpu.cpu
        import bochscpu.memory
        self.bochscpu = bochscpu
        self.mem = bochscpu.memory
        self.sess = bochscpu.Session()
        self.sess.missing_page_handler = self._missing_page
        self.table = bochscpu.memory.PageMapLevel4Table()
        self.mapped = set()
        self.next_gpa = 0x100000
        self.stack = ctypes.create_string_buffer(65536 + PAGE)
        self.stack_top = (ctypes.addressof(self.stack) + 65536) & ~(PAGE - 1)
        self.map_range(self.stack_top - 65536 + PAGE, self.stack_top)

    @staticmethod
    def _missing_page(gpa):
        raise RuntimeError(f"emulated access to unmapped physical page {gpa:#x}")

    def map_range(self, start, end):
        for va in range(start & ~(PAGE - 1), end, PAGE):
            if va in self.mapped:
                continue
            self.mem.page_insert(self.next_gpa, va)
            self.table.insert(va, self.next_gpa, 1)
            self.mapped.add(va)
            self.next_gpa += PAGE

    def map_object(self, path_part):
        """Maps every segment of the loaded object whose path contains path_part."""
        found = False
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) >= 6 and path_part in fields[5] and "r" in fields[1]:
                    lo, hi = (int(x, 16) for x in fields[0].split("-"))
                    self.map_range(lo, hi)
                    found = True
        if not found:
            raise RuntimeError(f"no mapping of {path_part} in this process")

    def call(self, fn, args):
        """Runs fn(*args); returns (finished, exception vector, xmm0 low 32 bits)."""
        bochscpu = self.bochscpu
        pml4 = self.next_gpa
        self.next_gpa += 0x1000000  # room for the table pages commit() places here
        for hva, gpa in self.table.commit(pml4):
            self.mem.page_insert(gpa, hva)
        sentinel = 0x00007EAD00000000  # never mapped: the final `ret` faults on it
        rsp = self.stack_top - 256
        stacked = list(args[6:])
        rsp -= 8 * len(stacked)
        rsp &= ~0xF
        for i, v in enumerate(stacked):
            ctypes.c_uint64.from_address(rsp + 8 * i).value = v & MASK64
        rsp -= 8
        ctypes.c_uint64.from_address(rsp).value = sentinel
        st = bochscpu.State()
        bochscpu.cpu.set_long_mode(st)
        # CR4: PAE, OSFXSR, OSXMMEXCPT, OSXSAVE; XCR0: x87, SSE, AVX, opmask, ZMM.
        st.cr4 = (1 << 5) | (1 << 9) | (1 << 10) | (1 << 18)
        st.xcr0 = 0xE7
        st.mxcsr = 0x1F80
        st.cr3 = pml4
        st.rsp = rsp
        st.rip = fn
        for reg, v in zip(["rdi", "rsi", "rdx", "rcx", "r8", "r9"], args):
            setattr(st, reg, v & MASK64)
        cs = bochscpu.Segment()
        cs.present, cs.selector, cs.base, cs.limit, cs.attr = True, 0x33, 0, 0xFFFFFFFF, 0x22FB
        ds = bochscpu.Segment()
        ds.present, ds.selector, ds.base, ds.limit, ds.attr = True, 0x2B, 0, 0xFFFFFFFF, 0xCF3
        st.cs = cs
        st.ds = st.ss = st.es = st.fs = st.gs = ds
        self.sess.cpu.state = st
        seen = []

        def on_exception(sess, cpu_id, vector, error_code):
            seen.append(vector)
            sess.stop()

        hook = bochscpu.Hook()
        hook.exception = on_exception
        self.sess.run([hook])
        end = self.sess.cpu.state
        vector = seen[0] if seen else None
        finished = vector == VECTOR_PF and end.rip == sentinel
        return finished, vector, end.zmm[0].q[0] & 0xFFFFFFFF


def run_model(module_path, index, name, has_512, has_avx):
    module = ctypes.CDLL(module_path, mode=os.RTLD_NOW)
    module.emu_case_prepare.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(EmuCase)]
    module.emu_case_check.argtypes = [ctypes.c_char_p, ctypes.c_int]
    module.emu_case_set_result.argtypes = [ctypes.c_uint32]
    emu = Emulator()
    emu.map_object(os.path.basename(module_path))
    emu.map_object("libc.so")  # memset, reached through the module's PLT
    failures = 0

    features = ctypes.c_uint32(0)
    emu.map_range(ctypes.addressof(features), ctypes.addressof(features) + 4)
    fn = ctypes.cast(module.emu_detect_features, ctypes.c_void_p).value
    finished, vector, _ = emu.call(fn, [ctypes.addressof(features)])
    want = FEATURE_BITS["avx"] | FEATURE_BITS["avx2"] | FEATURE_BITS["fma"] | FEATURE_BITS["f16c"]
    want |= (FEATURE_BITS["avx512_vnni"] if has_512 else 0) | (FEATURE_BITS["avx_vnni"] if has_avx else 0)
    got = features.value
    ok = finished and got == want
    failures += not ok
    print(f"  [{'ok' if ok else 'FAIL'}] detection: features {got:#04x}, expected {want:#04x}")

    for isa, runs in (("avx512-vnni", has_512), ("avx-vnni", has_avx)):
        case = EmuCase()
        count = module.emu_case_count()
        passed = 0
        for i in range(count if runs else 1):
            if module.emu_case_prepare(i, isa.encode(), ctypes.byref(case)) != 0:
                print(f"  [FAIL] {isa}: case {i} could not be prepared (no AVX2 here?)")
                return failures + 1
            for r in range(case.nregions):
                emu.map_range(case.regions[r][0], case.regions[r][1])
            label = case.name.decode()
            for c in range(case.ncalls):
                call = case.calls[c]
                finished, vector, xmm0 = emu.call(call.fn, list(call.args[:call.nargs]))
                if not finished:
                    break
                if call.returns_float:
                    module.emu_case_set_result(xmm0)
            if not runs:
                ok = not finished and vector == VECTOR_UD
                failures += not ok
                print(f"  [{'ok' if ok else 'FAIL'}] {isa} refused (#UD) by this model: "
                      f"{label} stopped with vector {vector}")
                break
            if not finished:
                failures += 1
                print(f"  [FAIL] {isa} {label}: stopped with exception vector {vector}")
                continue
            msg = ctypes.create_string_buffer(256)
            bad = module.emu_case_check(msg, 256)
            if bad:
                failures += 1
                print(f"  [FAIL] {isa} {label}: {bad} values differ from AVX2 ({msg.value.decode()})")
            else:
                passed += 1
        if runs:
            print(f"  [{'ok' if passed == count else 'FAIL'}] {isa}: {passed}/{count} cases "
                  "equal to the AVX2 kernels bit for bit")
    return failures


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    module_path = os.path.abspath(sys.argv[1])
    if "FRUGAL_EMU_MODEL" in os.environ:  # child: one model per process
        i = int(os.environ["FRUGAL_EMU_MODEL"])
        index, name, has_512, has_avx = MODELS[i]
        return 1 if run_model(module_path, index, name, has_512, has_avx) else 0
    failed = 0
    for i, (index, name, _, _) in enumerate(MODELS):
        print(f"{name} (Bochs model {index}):", flush=True)
        env = dict(os.environ, FRUGAL_EMU_MODEL=str(i), BOCHSCPU_MODEL_INDEX=str(index))
        rc = subprocess.run([sys.executable, __file__, module_path], env=env).returncode
        failed += rc != 0
    print("all emulated-CPU checks passed" if failed == 0 else f"{failed} model(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
