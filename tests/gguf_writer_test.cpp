// gguf::Writer compared against the PyPI `gguf` package's GGUFWriter: the files
// tests/data/gguf/pywriter_align{8,32,64}.gguf were written by it
// (tools/gen_gguf_writer_fixture.py); our writer must produce the same bytes
// from the same contents, and our reader must read back exactly those contents.
// Round trips (Writer -> bytes -> File) then cover every value type, nested and
// empty arrays, many tensor types and alignments.
#include "gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "gguf/gguf_file.h"

namespace frugal::gguf {
namespace {

using V = ValueType;

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

Value int_array(std::vector<int64_t> xs) {
  std::vector<Value> items;
  for (int64_t x : xs) items.push_back(make_int(V::INT32, x));
  return make_array(V::INT32, std::move(items));
}

Value str_array(std::vector<std::string> xs) {
  std::vector<Value> items;
  for (auto& x : xs) items.push_back(make_string(x));
  return make_array(V::STRING, std::move(items));
}

// Tensor payloads of the fixture (same as the Python script).
std::vector<uint8_t> tok_f32() {
  std::vector<float> v(15);
  for (int i = 0; i < 15; ++i) v[i] = 0.5f * i;
  return f32_bytes(v);
}
std::vector<uint8_t> q4_0_bytes() {
  std::vector<uint8_t> b(72);
  for (int i = 0; i < 72; ++i) b[i] = static_cast<uint8_t>(i * 7 % 256);
  return b;
}
std::vector<uint8_t> norm_f16() {
  // linspace(-1, 1, 7) in IEEE half precision (numpy's rounding).
  const uint16_t h[7] = {0xBC00, 0xB955, 0xB555, 0x0000, 0x3555, 0x3955, 0x3C00};
  std::vector<uint8_t> b(14);
  std::memcpy(b.data(), h, 14);
  return b;
}
std::vector<uint8_t> idx_i32() {
  const int32_t v[4] = {3, -1, 0, 2147483647};
  std::vector<uint8_t> b(16);
  std::memcpy(b.data(), v, 16);
  return b;
}

// The same contents as tools/gen_gguf_writer_fixture.py, in the same order.
Writer fixture_writer(uint64_t alignment) {
  Writer w(alignment);
  w.set_string("general.architecture", "frugaltest");
  if (alignment != 32) w.set_u32("general.alignment", static_cast<uint32_t>(alignment));
  w.set("t.u8", make_uint(V::UINT8, 200));
  w.set("t.i8", make_int(V::INT8, -100));
  w.set("t.u16", make_uint(V::UINT16, 60000));
  w.set("t.i16", make_int(V::INT16, -30000));
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -2000000000);
  w.set_f32("t.f32", -1.5e-5f);
  w.set_bool("t.bool", true);
  w.set_bool("t.bool0", false);
  w.set_string("t.str", "h\u00e9llo \u2713 <think>");
  w.set_u64("t.u64", (uint64_t{1} << 63) + 5);
  w.set("t.i64", make_int(V::INT64, -(int64_t{1} << 62)));
  w.set("t.f64", make_float(V::FLOAT64, 3.141592653589793));
  w.set_string_array("t.arr_str", {"a", "", "\u00fc\u00df", "<|end|>"});
  w.set_i32_array("t.arr_i32", {1, -2, 2147483647});
  w.set_f32_array("t.arr_f32", {0.5f, -0.25f, 1e-3f});
  w.set("t.arr_u8", make_array(V::UINT8, {make_uint(V::UINT8, 0), make_uint(V::UINT8, 255),
                                          make_uint(V::UINT8, 7)}));
  w.set("t.arr_bool", make_array(V::BOOL, {make_bool(true), make_bool(false), make_bool(true)}));
  w.set("t.arr_u64",
        make_array(V::UINT64, {make_uint(V::UINT64, ~uint64_t{0}), make_uint(V::UINT64, 0)}));
  w.set("t.nested_i32",
        make_array(V::ARRAY, {int_array({1, 2, 3}), int_array({4}), int_array({5, 6})}));
  w.set("t.nested_str", make_array(V::ARRAY, {str_array({"x", "yz"}), str_array({"w"})}));
  EXPECT_TRUE(w.add_tensor("tok.f32", GgmlType::F32, {5, 3}, tok_f32()).ok());
  EXPECT_TRUE(w.add_tensor("q.q4_0", GgmlType::Q4_0, {64, 2}, q4_0_bytes()).ok());
  EXPECT_TRUE(w.add_tensor("norm.f16", GgmlType::F16, {7}, norm_f16()).ok());
  EXPECT_TRUE(w.add_tensor("idx.i32", GgmlType::I32, {4}, idx_i32()).ok());
  return w;
}

class PyWriterFixture : public ::testing::TestWithParam<uint64_t> {
 protected:
  std::string path() const {
    return std::string(FRUGAL_TEST_DATA) + "/gguf/pywriter_align" + std::to_string(GetParam()) +
           ".gguf";
  }
};

TEST_P(PyWriterFixture, OurWriterProducesTheSameBytes) {
  std::vector<uint8_t> expected = read_all(path());
  ASSERT_FALSE(expected.empty()) << path();
  std::vector<uint8_t> ours = fixture_writer(GetParam()).to_bytes();
  ASSERT_EQ(ours.size(), expected.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    ASSERT_EQ(ours[i], expected[i]) << "first difference at byte " << i;
  }
}

TEST_P(PyWriterFixture, OurReaderReadsWhatGGUFWriterWrote) {
  auto r = File::open(path());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const File& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), GetParam());
  EXPECT_EQ(f.metadata().size(), GetParam() == 32 ? 22u : 23u);
  EXPECT_EQ(f.get_string("general.architecture"), "frugaltest");
  EXPECT_EQ(f.find("t.u8")->type, V::UINT8);
  EXPECT_EQ(f.get_uint("t.u8"), 200u);
  EXPECT_EQ(f.find("t.i8")->type, V::INT8);
  EXPECT_EQ(f.get_int("t.i8"), -100);
  EXPECT_EQ(f.get_uint("t.i8"), std::nullopt);  // negative: not representable
  EXPECT_EQ(f.get_uint("t.u16"), 60000u);
  EXPECT_EQ(f.get_int("t.i16"), -30000);
  EXPECT_EQ(f.get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(f.get_int("t.u32"), 4000000000);  // unsigned fits in int64
  EXPECT_EQ(f.get_int("t.i32"), -2000000000);
  EXPECT_EQ(f.get_float("t.f32"), static_cast<double>(-1.5e-5f));
  EXPECT_EQ(f.get_float("t.u32"), std::nullopt);
  EXPECT_EQ(f.get_bool("t.bool"), true);
  EXPECT_EQ(f.get_bool("t.bool0"), false);
  EXPECT_EQ(f.get_string("t.str"), "h\u00e9llo \u2713 <think>");
  EXPECT_EQ(f.get_uint("t.u64"), (uint64_t{1} << 63) + 5);
  EXPECT_EQ(f.get_int("t.u64"), std::nullopt);  // > INT64_MAX
  EXPECT_EQ(f.get_int("t.i64"), -(int64_t{1} << 62));
  EXPECT_EQ(f.get_float("t.f64"), 3.141592653589793);
  EXPECT_EQ(f.get_string("t.u8"), std::nullopt);
  EXPECT_EQ(f.get_uint("missing.key"), std::nullopt);

  const Array* s = f.get_array("t.arr_str");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->size(), 4u);
  EXPECT_EQ(*s->at(2).as_string(), "\u00fc\u00df");
  EXPECT_EQ(*s->at(1).as_string(), "");
  const Array* i32 = f.get_array("t.arr_i32");
  ASSERT_NE(i32, nullptr);
  EXPECT_EQ(i32->elem_type(), V::INT32);
  EXPECT_EQ(i32->at(1).as_int(), -2);
  EXPECT_EQ(i32->at(2).as_int(), 2147483647);
  EXPECT_EQ(f.get_array("t.arr_f32")->at(2).as_float(), static_cast<double>(1e-3f));
  EXPECT_EQ(f.get_array("t.arr_u8")->at(1).as_uint(), 255u);
  EXPECT_EQ(f.get_array("t.arr_bool")->at(1).as_bool(), false);
  EXPECT_EQ(f.get_array("t.arr_u64")->at(0).as_uint(), ~uint64_t{0});
  const Array* nested = f.get_array("t.nested_i32");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->elem_type(), V::ARRAY);
  ASSERT_EQ(nested->size(), 3u);
  ASSERT_EQ(nested->at(2).as_array()->size(), 2u);
  EXPECT_EQ(nested->at(2).as_array()->at(1).as_int(), 6);
  EXPECT_EQ(*f.get_array("t.nested_str")->at(0).as_array()->at(1).as_string(), "yz");
  // Strings of an array read from a file are views into the mapping, not
  // heap copies; a copy of the array owns its strings.
  const std::string_view viewed = *s->string_at(2);
  EXPECT_EQ(viewed, "\u00fc\u00df");
  const auto* at = reinterpret_cast<const uint8_t*>(viewed.data());
  const uint8_t* mapping = f.tensors()[0].data - f.tensors()[0].offset - f.data_offset();
  EXPECT_TRUE(at > mapping && at < mapping + f.data_offset()) << "not in the mapped header";
  const Array copy = *s;
  EXPECT_NE(copy.string_at(2)->data(), viewed.data());
  EXPECT_EQ(*copy.string_at(2), viewed);
  EXPECT_EQ(s->string_at(9), std::nullopt);    // past the end
  EXPECT_EQ(i32->string_at(0), std::nullopt);  // not a string array

  ASSERT_EQ(f.tensors().size(), 4u);
  struct Expect {
    const char* name;
    GgmlType type;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> data;
  };
  const Expect want[] = {{"tok.f32", GgmlType::F32, {5, 3}, tok_f32()},
                         {"q.q4_0", GgmlType::Q4_0, {64, 2}, q4_0_bytes()},
                         {"norm.f16", GgmlType::F16, {7}, norm_f16()},
                         {"idx.i32", GgmlType::I32, {4}, idx_i32()}};
  for (size_t i = 0; i < 4; ++i) {
    const TensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.name, want[i].name);
    EXPECT_EQ(t.type, want[i].type);
    EXPECT_EQ(t.shape, want[i].shape);
    EXPECT_EQ(t.offset % GetParam(), 0u);
    ASSERT_EQ(t.n_bytes, want[i].data.size());
    EXPECT_EQ(std::memcmp(t.data, want[i].data.data(), t.n_bytes), 0) << t.name;
    EXPECT_EQ(f.find_tensor(want[i].name), &t);
  }
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Alignments, PyWriterFixture, ::testing::Values(8, 32, 64));

// ---- Round trips through our own writer and reader ----

class RoundTrip : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RoundTrip, AllValueTypesNestedArraysAndManyTensorTypes) {
  const uint64_t align = GetParam();
  Writer w(align);
  w.set("u8", make_uint(V::UINT8, 255));
  w.set("i8", make_int(V::INT8, -128));
  w.set("u16", make_uint(V::UINT16, 65535));
  w.set("i16", make_int(V::INT16, -32768));
  w.set_u32("u32", 0xFFFFFFFFu);
  w.set_i32("i32", -2147483647 - 1);
  w.set_f32("f32", 1.0f / 3.0f);
  w.set_bool("bool", true);
  w.set_string("str", std::string("nul\0inside", 10));
  w.set("arr_empty", make_array(V::INT64, {}));
  w.set_u64("u64", ~uint64_t{0});
  w.set("i64", make_int(V::INT64, INT64_MIN));
  w.set("f64", make_float(V::FLOAT64, -0.1));
  w.set("deep", make_array(V::ARRAY,
                           {make_array(V::ARRAY, {int_array({7, 8})}), make_array(V::ARRAY, {})}));
  w.set_u32("u32", 17);  // replaces in place: keeps the first position

  // Payloads with distinct bytes so a wrong data pointer shows.
  auto pattern = [](size_t n, uint8_t seed) {
    std::vector<uint8_t> b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 31);
    return b;
  };
  struct T {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> shape;
    size_t bytes;
  };
  const std::vector<T> ts = {
      {"a.q4_k", GgmlType::Q4_K, {512, 3}, 2 * 144 * 3},
      {"b.q8_0", GgmlType::Q8_0, {32, 1, 2, 3}, 34 * 6},
      {"c.f16", GgmlType::F16, {3}, 6},
      {"d.bf16", GgmlType::BF16, {5, 1}, 10},
      {"e.i8", GgmlType::I8, {1}, 1},
      {"f.q6_k", GgmlType::Q6_K, {256}, 210},
      {"g.f64", GgmlType::F64, {2, 2}, 32},
  };
  for (size_t i = 0; i < ts.size(); ++i) {
    auto st = w.add_tensor(ts[i].name, ts[i].type, ts[i].shape,
                           pattern(ts[i].bytes, static_cast<uint8_t>(i)));
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  std::vector<uint8_t> bytes = w.to_bytes();
  EXPECT_EQ(bytes.size() % align, 0u);
  auto r = File::from_memory(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const File& f = **r;
  EXPECT_EQ(f.alignment(), align);
  EXPECT_EQ(f.data_offset() % align, 0u);
  // The auto-added general.alignment key (align != 32) plus our 14.
  EXPECT_EQ(f.metadata().size(), align == 32 ? 14u : 15u);
  if (align != 32) {
    EXPECT_EQ(f.find("general.alignment")->type, V::UINT32);
  }
  EXPECT_EQ(f.get_uint("u8"), 255u);
  EXPECT_EQ(f.get_int("i8"), -128);
  EXPECT_EQ(f.get_uint("u16"), 65535u);
  EXPECT_EQ(f.get_int("i16"), -32768);
  EXPECT_EQ(f.get_uint("u32"), 17u);
  EXPECT_EQ(f.get_int("i32"), INT32_MIN);
  EXPECT_EQ(f.get_float("f32"), static_cast<double>(1.0f / 3.0f));
  EXPECT_EQ(f.get_bool("bool"), true);
  EXPECT_EQ(f.get_string("str"), std::string("nul\0inside", 10));
  ASSERT_NE(f.get_array("arr_empty"), nullptr);
  EXPECT_EQ(f.get_array("arr_empty")->elem_type(), V::INT64);
  EXPECT_TRUE(f.get_array("arr_empty")->empty());
  EXPECT_EQ(f.get_uint("u64"), ~uint64_t{0});
  EXPECT_EQ(f.get_int("i64"), INT64_MIN);
  EXPECT_EQ(f.get_float("f64"), -0.1);
  const Array* deep = f.get_array("deep");
  ASSERT_NE(deep, nullptr);
  ASSERT_EQ(deep->size(), 2u);
  EXPECT_EQ(deep->at(0).as_array()->at(0).as_array()->at(1).as_int(), 8);
  EXPECT_EQ(deep->at(1).as_array()->elem_type(), V::ARRAY);

  ASSERT_EQ(f.tensors().size(), ts.size());
  uint64_t prev_end = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const TensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.name, ts[i].name);
    EXPECT_EQ(t.type, ts[i].type);
    EXPECT_EQ(t.shape, ts[i].shape);
    EXPECT_EQ(t.n_bytes, ts[i].bytes);
    EXPECT_EQ(t.offset % align, 0u);
    EXPECT_GE(t.offset, prev_end);
    EXPECT_LT(t.offset - prev_end, align);  // padding only, no gaps beyond it
    prev_end = t.offset + t.n_bytes;
    EXPECT_EQ(t.data, bytes.data() + f.data_offset() + t.offset);
    auto want = pattern(ts[i].bytes, static_cast<uint8_t>(i));
    EXPECT_EQ(std::memcmp(t.data, want.data(), want.size()), 0) << t.name;
  }
  EXPECT_EQ(f.tensors()[3].n_elements, 5u);
  EXPECT_EQ(f.tensors()[1].n_elements, 32u * 6u);
}

INSTANTIATE_TEST_SUITE_P(Alignments, RoundTrip, ::testing::Values(8, 32, 64));

TEST(Writer, WriteThenOpenFromDisk) {
  Writer w(64);
  w.set_string("general.architecture", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<s>", "a", "b"});
  std::vector<float> x = {1, 2, 3, 4};
  ASSERT_TRUE(w.add_tensor("x", GgmlType::F32, {4}, f32_bytes(x)).ok());
  const std::string path = std::string(FRUGAL_BINARY_DIR) + "/gguf_writer_test_out.gguf";
  auto st = w.write(path);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto r = File::open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->file_size(), w.to_bytes().size());
  EXPECT_EQ((*r)->get_array("tokenizer.ggml.tokens")->size(), 3u);
  float got[4];
  std::memcpy(got, (*r)->find_tensor("x")->data, 16);
  EXPECT_EQ(got[3], 4.0f);
}

// Released pages read back the file's bytes, and prefault() runs around
// them (model/weights.cpp releases the tensors it repacks).
TEST(Writer, ReleasedTensorPagesReadBackTheFile) {
  Writer w(4096);
  std::vector<float> big(3 * 4096), small = {5, 6, 7, 8};  // 48 KiB: whole pages inside
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i);
  ASSERT_TRUE(w.add_tensor("big", GgmlType::F32, {big.size()}, f32_bytes(big)).ok());
  ASSERT_TRUE(w.add_tensor("small", GgmlType::F32, {4}, f32_bytes(small)).ok());
  const std::string path = std::string(FRUGAL_BINARY_DIR) + "/gguf_writer_test_release.gguf";
  ASSERT_TRUE(w.write(path).ok());
  auto r = File::open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const TensorInfo* t = (*r)->find_tensor("big");
  (*r)->release(t->data, t->n_bytes);
  (*r)->release(t->data, ~uint64_t{0});  // out of range: ignored
  (*r)->release(nullptr, 16);            // not in the mapping: ignored
  uint64_t calls = 0;
  (*r)->prefault([&](uint64_t, uint64_t) { ++calls; });
  EXPECT_GT(calls, 0u);
  std::vector<float> got(big.size());
  std::memcpy(got.data(), t->data, t->n_bytes);
  EXPECT_EQ(got, big);
  float s[4];
  std::memcpy(s, (*r)->find_tensor("small")->data, 16);
  EXPECT_EQ(s[3], 8.0f);
}

TEST(Writer, AddTensorChecksSizeShapeAndName) {
  Writer w;
  std::vector<uint8_t> buf(18);
  EXPECT_TRUE(w.add_tensor("ok", GgmlType::Q4_0, {32}, buf).ok());
  auto dup = w.add_tensor("ok", GgmlType::Q4_0, {32}, buf);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("duplicate"), std::string::npos);
  auto wrong = w.add_tensor("w", GgmlType::Q4_0, {64}, buf);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("needs 36 bytes, got 18"), std::string::npos)
      << wrong.error().message;
  auto block = w.add_tensor("b", GgmlType::Q4_0, {16}, buf);
  ASSERT_FALSE(block.ok());
  EXPECT_NE(block.error().message.find("block size"), std::string::npos);
  EXPECT_FALSE(w.add_tensor("z", GgmlType::F32, {0}, {}).ok());
  EXPECT_FALSE(w.add_tensor("n", GgmlType::F32, {}, {}).ok());
  EXPECT_FALSE(w.add_tensor("5", GgmlType::F32, {1, 1, 1, 1, 1}, buf).ok());
  EXPECT_FALSE(w.add_tensor("", GgmlType::F32, {1}, std::vector<uint8_t>(4)).ok());
  EXPECT_FALSE(w.add_tensor("t", static_cast<GgmlType>(99), {1}, std::vector<uint8_t>(4)).ok());
  EXPECT_FALSE(w.add_tensor("o", GgmlType::F32, {uint64_t{1} << 32, uint64_t{1} << 32}, buf).ok());

  Writer bad(24);
  auto st = bad.add_tensor("x", GgmlType::F32, {1}, std::vector<uint8_t>(4));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("alignment 24"), std::string::npos);
}

}  // namespace
}  // namespace frugal::gguf
