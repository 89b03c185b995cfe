#!/usr/bin/env python3
"""Writes tests/data/gguf/pywriter_align{8,32,64}.gguf with the PyPI `gguf`
package's GGUFWriter (a writer nobody here wrote). tests/gguf_writer_test.cpp
rebuilds the same contents with gguf::Writer and requires identical bytes, and
reads these files back with gguf::File.

Usage: ~/.cache/frugal/pyref/bin/python tools/gen_gguf_writer_fixture.py
Keep the contents in sync with kFixture in tests/gguf_writer_test.cpp.
"""
import os

import numpy as np
from gguf import GGMLQuantizationType, GGUFValueType, GGUFWriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
V = GGUFValueType


def write(alignment):
    path = os.path.join(ROOT, "tests", "data", "gguf", f"pywriter_align{alignment}.gguf")
    w = GGUFWriter(path, "frugaltest")
    if alignment != 32:
        w.add_custom_alignment(alignment)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", -1.5e-5)
    w.add_bool("t.bool", True)
    w.add_bool("t.bool0", False)
    w.add_string("t.str", "h\u00e9llo \u2713 <think>")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 3.141592653589793)
    w.add_array("t.arr_str", ["a", "", "\u00fc\u00df", "<|end|>"])
    w.add_key_value("t.arr_i32", [1, -2, 2147483647], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("t.arr_f32", [0.5, -0.25, 1e-3], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("t.arr_u8", [0, 255, 7], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("t.arr_bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("t.arr_u64", [2**64 - 1, 0], V.ARRAY, sub_type=V.UINT64)
    w.add_array("t.nested_i32", [[1, 2, 3], [4], [5, 6]])
    w.add_array("t.nested_str", [["x", "yz"], ["w"]])

    # numpy shape is slowest-first; GGUF records it reversed (shape[0] fastest).
    w.add_tensor("tok.f32", (np.arange(15, dtype=np.float32) * 0.5).reshape(3, 5))
    q = (np.arange(72, dtype=np.uint32) * 7 % 256).astype(np.uint8).reshape(2, 36)
    w.add_tensor("q.q4_0", q, raw_dtype=GGMLQuantizationType.Q4_0)  # GGUF shape [64, 2]
    w.add_tensor("norm.f16", np.linspace(-1, 1, 7).astype(np.float16))
    w.add_tensor("idx.i32", np.array([3, -1, 0, 2**31 - 1], dtype=np.int32))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    for a in (8, 32, 64):
        write(a)
