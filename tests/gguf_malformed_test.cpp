// gguf::File on crafted, malformed GGUF images, compared against the GGUF
// format's rules (the layout documented in ggml's docs/gguf.md: header, KV
// encoding, tensor infos, general.alignment, aligned offsets) and llama.cpp's
// practice of rejecting corrupted files with an error rather than crashing.
// Every case must be rejected with an error naming the field at fault, quickly,
// and without allocating memory in proportion to a bogus header count.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <new>
#include <span>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

// Largest single allocation since the last reset: the parser must never size
// an allocation from a header count the file cannot back.
// Our operator new is malloc and our operator delete is free, which GCC at -O3
// misreads as a new/free mismatch once it sees both (a false positive).
// Also the peak of live heap bytes above the level at the last reset
// (malloc_usable_size, so unsized deletes are counted too): the bound
// of 1 MiB extra memory for a header-only failure.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<size_t> g_max_alloc{0};
static std::atomic<int64_t> g_live{0}, g_peak_live{0};
void* operator new(size_t n) {
  size_t cur = g_max_alloc.load(std::memory_order_relaxed);
  while (n > cur && !g_max_alloc.compare_exchange_weak(cur, n)) {
  }
  if (void* p = std::malloc(n ? n : 1)) {
    const int64_t live = g_live += static_cast<int64_t>(malloc_usable_size(p));
    int64_t peak = g_peak_live.load(std::memory_order_relaxed);
    while (live > peak && !g_peak_live.compare_exchange_weak(peak, live)) {
    }
    return p;
  }
  throw std::bad_alloc();
}
// The nothrow form too (std::stable_sort's buffer uses it): left to the
// sanitizer's allocator, its blocks would reach our delete as a mismatch.
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  if (p) g_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  if (p) g_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}

namespace frugal::gguf {
namespace {

constexpr uint32_t kU8 = 0, kU32 = 4, kBool = 7, kString = 8, kArray = 9, kU64 = 10;
constexpr uint32_t kF32 = 0, kQ4_0 = 2;
constexpr uint64_t kHuge = uint64_t{1} << 63;

ByteBuilder header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  ByteBuilder b;
  b.raw("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
  return b;
}

void tensor_info(ByteBuilder& b, std::string_view name, const std::vector<uint64_t>& dims,
                 uint32_t type, uint64_t offset) {
  b.str(name).u32(static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) b.u64(d);
  b.u32(type).u64(offset);
}

// Pads to `align` and appends `n` data bytes.
std::vector<uint8_t> with_data(ByteBuilder b, size_t n, uint64_t align = 32) {
  b.pad_to(align);
  for (size_t i = 0; i < n; ++i) b.u8(static_cast<uint8_t>(i));
  return b.take();
}

// One KV "general.alignment" of type `type` followed by `value_bytes`.
ByteBuilder alignment_kv(uint32_t type, uint64_t n_tensors = 0) {
  ByteBuilder b = header(n_tensors, 1);
  b.str("general.alignment").u32(type);
  return b;
}

// A small valid file: 2 KVs (one array), two tensors (F32 [8], Q4_0 [32, 2]).
std::vector<uint8_t> small_valid_file() {
  ByteBuilder b = header(2, 2);
  b.str("general.architecture").u32(kString).str("llama");
  b.str("tokenizer.ggml.tokens").u32(kArray).u32(kString).u64(2).str("a").str("bc");
  tensor_info(b, "w", {8}, kF32, 0);
  tensor_info(b, "q", {32, 2}, kQ4_0, 32);
  return with_data(std::move(b), 32 + 36);
}

struct Case {
  std::string name;
  std::vector<uint8_t> bytes;
  std::string fragment;  // must appear in the error message
};

std::vector<Case> cases() {
  std::vector<Case> c;
  auto add = [&](std::string name, ByteBuilder b, std::string frag) {
    c.push_back({std::move(name), b.take(), std::move(frag)});
  };
  auto add_bytes = [&](std::string name, std::vector<uint8_t> b, std::string frag) {
    c.push_back({std::move(name), std::move(b), std::move(frag)});
  };

  {
    std::vector<uint8_t> v = small_valid_file();
    v[3] = 'X';
    add_bytes("BadMagic", v, "bad magic");
  }
  add_bytes("Empty", {}, "magic");
  add_bytes("ThreeBytes", {'G', 'G', 'U'}, "magic");
  add("Version1", header(0, 0, 1), "version 1");
  add("Version0", header(0, 0, 0), "version 0");
  add("Version4", header(0, 0, 4), "version 4");
  add("VersionMax", header(0, 0, 0xFFFFFFFFu), "version 4294967295");
  add("KvCountHuge", header(0, kHuge), "kv_count 9223372036854775808");
  add(
      "KvCountJustTooBig",
      [] {
        ByteBuilder b = header(0, 2);
        b.str("k").u32(kU8).u8(1);  // room for one KV, not two
        return b;
      }(),
      "kv_count 2");
  add("TensorCountHuge", header(kHuge, 0), "tensor_count 9223372036854775808");
  add(
      "KeyLengthPastEnd",
      [] {
        ByteBuilder b = header(0, 1);
        b.u64(100).raw("abc", 3).u32(kU8).u8(0).u8(0).u8(0).u8(0).u8(0);
        return b;
      }(),
      "key #0: string length 100 exceeds");
  add(
      "KeyLengthMax",
      [] {
        ByteBuilder b = header(0, 1);
        b.u64(~uint64_t{0}).raw("abcdefgh", 8);
        return b;
      }(),
      "string length 18446744073709551615");
  add(
      "StringValueLengthMax",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("s").u32(kString).u64(~uint64_t{0}).raw("xyz", 3);
        return b;
      }(),
      "key 's' value: string length 18446744073709551615");
  add(
      "EmptyKey",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("").u32(kU8).u8(1);
        return b;
      }(),
      "key #0: empty key");
  add(
      "KeyInvalidUtf8",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("a\xC3\x28").u32(kU8).u8(1);
        return b;
      }(),
      "key #0: key is not valid UTF-8");
  add(
      "KeyOverlongUtf8",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("\xC0\xAF").u32(kU8).u8(1);
        return b;
      }(),
      "not valid UTF-8");
  add(
      "KeySurrogateUtf8",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("\xED\xA0\x80").u32(kU8).u8(1);
        return b;
      }(),
      "not valid UTF-8");
  add(
      "DuplicateKey",
      [] {
        ByteBuilder b = header(0, 2);
        b.str("a").u32(kU8).u8(1).str("a").u32(kU8).u8(2);
        return b;
      }(),
      "duplicate key 'a'");
  add(
      "UnknownValueType",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("k").u32(13).u64(0);
        return b;
      }(),
      "key 'k': unknown value type 13");
  add(
      "UnknownArrayElemType",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("k").u32(kArray).u32(0x7FFFFFFF).u64(0);
        return b;
      }(),
      "key 'k': unknown array element type 2147483647");
  add(
      "ArrayCountHuge",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("k").u32(kArray).u32(kU64).u64(uint64_t{1} << 62).u64(1);
        return b;
      }(),
      "key 'k': array count 4611686018427387904 of uint64 cannot fit");
  add(
      "StringArrayCountHuge",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("tokens").u32(kArray).u32(kString).u64(kHuge).str("a");
        return b;
      }(),
      "key 'tokens': array count 9223372036854775808 of string cannot fit");
  add(
      "ArraysNestedTooDeep",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("deep").u32(kArray);
        for (int i = 0; i < 9; ++i) b.u32(kArray).u64(1);
        b.u32(kU8).u64(0);
        return b;
      }(),
      "key 'deep': arrays nested deeper than 8 levels");
  add(
      "Bool2",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("flag").u32(kBool).u8(2);
        return b;
      }(),
      "key 'flag': bool value 2");
  add(
      "BoolInArray255",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("flags").u32(kArray).u32(kBool).u64(3).u8(0).u8(1).u8(255);
        return b;
      }(),
      "key 'flags': bool value 255");
  add(
      "AlignmentZero",
      [] {
        ByteBuilder b = alignment_kv(kU32);
        b.u32(0);
        return b;
      }(),
      "general.alignment 0 is not a nonzero power of two");
  add(
      "AlignmentThree",
      [] {
        ByteBuilder b = alignment_kv(kU32);
        b.u32(3);
        return b;
      }(),
      "general.alignment 3 is not a nonzero power of two");
  add(
      "AlignmentWrongTypeU64",
      [] {
        ByteBuilder b = alignment_kv(kU64);
        b.u64(32);
        return b;
      }(),
      "general.alignment must be uint32, got uint64");
  add(
      "AlignmentWrongTypeString",
      [] {
        ByteBuilder b = alignment_kv(kString);
        b.str("32");
        return b;
      }(),
      "general.alignment must be uint32, got string");

  auto one_tensor = [](std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                       uint64_t offset, size_t data_bytes) {
    ByteBuilder b = header(1, 0);
    tensor_info(b, name, dims, type, offset);
    return with_data(std::move(b), data_bytes);
  };
  add_bytes("NDims0", one_tensor("t", {}, kF32, 0, 64), "tensor 't': n_dims 0 out of range 1..4");
  add_bytes("NDims5", one_tensor("t", {1, 1, 1, 1, 1}, kF32, 0, 64),
            "tensor 't': n_dims 5 out of range");
  add_bytes("Dim0", one_tensor("t", {4, 0}, kF32, 0, 64), "tensor 't': dim[1] is 0");
  add_bytes("ElementCountOverflow",
            one_tensor("t", {uint64_t{1} << 32, uint64_t{1} << 32}, kF32, 0, 64),
            "tensor 't': element count of shape [4294967296, 4294967296] overflows");
  add_bytes("ByteSizeOverflow",
            one_tensor("t", {uint64_t{1} << 32, uint64_t{1} << 30}, kF32, 0, 64),
            "tensor 't': byte size of F32 shape [4294967296, 1073741824] overflows");
  add_bytes("UnknownType99", one_tensor("t", {32}, 99, 0, 64), "tensor 't': unknown ggml type 99");
  add_bytes("RemovedType4", one_tensor("t", {32}, 4, 0, 64), "unknown ggml type 4");
  add_bytes("RemovedType5", one_tensor("t", {32}, 5, 0, 64), "unknown ggml type 5");
  add_bytes("Q4_0NotBlockMultiple", one_tensor("t", {33, 2}, kQ4_0, 0, 128),
            "tensor 't': shape[0] 33 is not a multiple of the Q4_0 block size 32");
  add_bytes("OffsetNotAligned", one_tensor("t", {4}, kF32, 16, 64),
            "tensor 't': offset 16 is not a multiple of the alignment 32");
  add_bytes("OffsetPastEnd", one_tensor("t", {4}, kF32, 1 << 20, 64), "tensor 't': offset 1048576");
  add_bytes("OffsetOverflow", one_tensor("t", {4}, kF32, ~uint64_t{31}, 64), "overflows 64 bits");
  {
    // 100 floats = 400 bytes, but only 64 data bytes: the file is 96 + 64.
    std::vector<uint8_t> v = one_tensor("blk.0.attn_q.weight", {100}, kF32, 0, 64);
    std::string frag = fmt::format(
        "tensor 'blk.0.attn_q.weight': data [96, 496) extends past end of file ({} bytes)",
        v.size());
    add_bytes("DataPastEnd", std::move(v), frag);
  }
  add_bytes(
      "DataOfVocabOnlyLayoutMissing",
      [] {
        // A tensor whose data section would start after the end of the file.
        ByteBuilder b = header(1, 0);
        tensor_info(b, "t", {1}, kF32, 0);
        return b.take();
      }(),
      "tensor 't': offset 0");
  add_bytes(
      "OverlappingTensors",
      [] {
        ByteBuilder b = header(2, 0);
        tensor_info(b, "a", {16}, kF32, 0);  // [0, 64)
        tensor_info(b, "b", {8}, kF32, 32);  // [32, 64)
        return with_data(std::move(b), 64);
      }(),
      "tensors 'a' [0, 64) and 'b' [32, 64) overlap");
  add_bytes(
      "DuplicateTensorName",
      [] {
        ByteBuilder b = header(2, 0);
        tensor_info(b, "w", {8}, kF32, 0);
        tensor_info(b, "w", {8}, kF32, 32);
        return with_data(std::move(b), 64);
      }(),
      "duplicate tensor name 'w'");
  add_bytes("EmptyTensorName", one_tensor("", {8}, kF32, 0, 64), "tensor #0: empty name");
  add_bytes(
      "AlignmentHonoured",
      [] {
        // With general.alignment 64, offset 32 is misaligned even though 32 | 32.
        ByteBuilder b = header(1, 1);
        b.str("general.alignment").u32(kU32).u32(64);
        tensor_info(b, "t", {8}, kF32, 32);
        return with_data(std::move(b), 128, 64);
      }(),
      "tensor 't': offset 32 is not a multiple of the alignment 64");
  add_bytes(
      "TensorNameLengthHuge",
      [] {
        ByteBuilder b = header(1, 0);
        b.u64(kHuge).u32(1).u64(1).u32(kF32).u64(0);
        return b.take();
      }(),
      "tensor #0 name: string length 9223372036854775808");

  // Issue 6 additions: the remaining shapes of the known bug classes.
  add(
      "NDimsMax",
      [] {
        ByteBuilder b = header(1, 0);
        b.str("t").u32(0xFFFFFFFFu).u64(1).u32(kF32).u64(0);
        return b;
      }(),
      "tensor 't': n_dims 4294967295 out of range 1..4");
  add(
      "StringArrayItemPastEnd",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("tokenizer.ggml.tokens")
            .u32(kArray)
            .u32(kString)
            .u64(2)
            .str("a")
            .u64(1000)
            .raw("xy", 2);
        return b;
      }(),
      "key 'tokenizer.ggml.tokens' item 1: string length 1000 exceeds");
  add(
      "NestedArrayInnerCountHuge",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("k").u32(kArray).u32(kArray).u64(1).u32(kU64).u64(uint64_t{1} << 62).u64(7);
        return b;
      }(),
      "key 'k': array count 4611686018427387904 of uint64 cannot fit");
  add_bytes("FourDimsProductOverflow",
            one_tensor("t", {1u << 16, 1u << 16, 1u << 16, 1u << 16}, kF32, 0, 64),
            "tensor 't': element count of shape [65536, 65536, 65536, 65536] overflows");
  add_bytes("DimMaxTimesTypeSizeOverflow", one_tensor("t", {~uint64_t{0}}, kF32, 0, 64),
            "tensor 't': byte size of F32 shape [18446744073709551615] overflows");
  add_bytes("UnknownTypeMax", one_tensor("t", {32}, 0xFFFFFFFFu, 0, 64),
            "tensor 't': unknown ggml type 4294967295");
  add_bytes("Q4_KNotBlockMultiple", one_tensor("t", {32}, /*Q4_K=*/12, 0, 256),
            "tensor 't': shape[0] 32 is not a multiple of the Q4_K block size 256");
  add_bytes("Q8_0NotBlockMultiple", one_tensor("t", {40}, /*Q8_0=*/8, 0, 64),
            "tensor 't': shape[0] 40 is not a multiple of the Q8_0 block size 32");
  add_bytes("DataOneBytePastEnd", one_tensor("t", {16, 2}, kF32, 0, 127),
            "tensor 't': data [96, 224) extends past end of file (223 bytes)");
  add_bytes(
      "IdenticalOffsetsOverlap",
      [] {
        ByteBuilder b = header(2, 0);
        tensor_info(b, "a", {8}, kF32, 0);
        tensor_info(b, "b", {8}, kF32, 0);
        return with_data(std::move(b), 64);
      }(),
      "tensors 'a' [0, 32) and 'b' [0, 32) overlap");
  add_bytes(
      "AlignmentHugePushesDataPastEnd",
      [] {
        // 2^31 is a legal power of two: the data section starts 2 GiB in.
        ByteBuilder b = header(1, 1);
        b.str("general.alignment").u32(kU32).u32(1u << 31);
        tensor_info(b, "t", {8}, kF32, 0);
        return with_data(std::move(b), 64);
      }(),
      "tensor 't': offset 0 (file offset 2147483648) is past end of file");
  add(
      "ArrayElemTypeIsArrayOfUnknown",
      [] {
        ByteBuilder b = header(0, 1);
        b.str("k").u32(kArray).u32(kArray).u64(1).u32(200).u64(0);
        return b;
      }(),
      "key 'k': unknown array element type 200");
  return c;
}

class Malformed : public ::testing::TestWithParam<Case> {};

// Parses `bytes` a few times and returns the fastest wall time in ms: a real
// cost (work proportional to a bogus count) shows in every run, while the
// scheduler preempting us on a loaded machine does not. The parsed File is
// destroyed inside the timed span, as a rejected one is inside from_memory,
// so accepted and rejected files are timed alike.
double best_parse_ms(const std::vector<uint8_t>& bytes, const OpenOptions& opt = {}) {
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    { auto r = File::from_memory(bytes, opt); }
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return best;
}

// Resets the allocation counters; peak_extra() is the most heap the parser
// held at once since then, above what was live before.
class AllocWatch {
 public:
  AllocWatch() : base_(g_live.load()) {
    g_max_alloc = 0;
    g_peak_live = base_;
  }
  int64_t peak_extra() const { return g_peak_live.load() - base_; }

 private:
  int64_t base_;
};

constexpr int64_t kOneMiB = int64_t{1} << 20;

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& fragment,
                     const OpenOptions& opt = {}) {
  AllocWatch watch;
  auto r = File::from_memory(bytes, opt);
  EXPECT_LE(watch.peak_extra(), kOneMiB) << "header-only failure held over 1 MiB";
  ASSERT_FALSE(r.ok()) << "accepted; expected an error containing: " << fragment;
  const std::string& msg = r.error().message;
  EXPECT_EQ(msg.rfind("gguf: ", 0), 0u) << msg;
  EXPECT_NE(msg.find(fragment), std::string::npos)
      << "message: " << msg << "\nwanted: " << fragment;
  EXPECT_LE(g_max_alloc.load(), 64 * bytes.size() + 4096) << msg;
  EXPECT_LT(best_parse_ms(bytes, opt), 10.0) << msg;
}

TEST_P(Malformed, IsRejectedNamingTheField) {
  expect_rejected(GetParam().bytes, GetParam().fragment);
}

INSTANTIATE_TEST_SUITE_P(Cases, Malformed, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(Malformed, AtLeast25DistinctCases) {
  EXPECT_GE(cases().size(), 25u);
}

TEST(Malformed, SmallValidFileIsAccepted) {
  std::vector<uint8_t> v = small_valid_file();
  auto r = File::from_memory(v);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->tensors().size(), 2u);
  EXPECT_EQ((*r)->find_tensor("q")->n_bytes, 36u);
  EXPECT_EQ((*r)->find_tensor("q")->data, v.data() + (*r)->data_offset() + 32);
}

TEST(Malformed, TruncationAtEveryOffsetIsRejected) {
  const std::vector<uint8_t> v = small_valid_file();
  for (size_t n = 0; n < v.size(); ++n) {
    std::vector<uint8_t> cut(v.begin(), v.begin() + n);  // own copy: ASan sees any overread
    g_max_alloc = 0;
    auto r = File::from_memory(cut);
    ASSERT_FALSE(r.ok()) << "accepted a file cut to " << n << " of " << v.size() << " bytes";
    EXPECT_EQ(r.error().message.rfind("gguf: ", 0), 0u) << r.error().message;
    EXPECT_LE(g_max_alloc.load(), 64 * v.size() + 4096) << "cut at " << n;
    EXPECT_LT(best_parse_ms(cut), 10.0) << "cut at " << n;
  }
}

// Deterministic byte mutations of valid files (ours and one written by the
// PyPI gguf package): every result is either an error or a File whose tensors
// all lie inside the buffer. Under ASan this is a small fuzz run.
TEST(Malformed, RandomMutationsNeverCrash) {
  std::vector<std::vector<uint8_t>> seeds = {small_valid_file()};
  {
    std::FILE* f = std::fopen(FRUGAL_TEST_DATA "/gguf/pywriter_align8.gguf", "rb");
    ASSERT_NE(f, nullptr);
    std::vector<uint8_t> b(4096);
    b.resize(std::fread(b.data(), 1, b.size(), f));
    std::fclose(f);
    seeds.push_back(std::move(b));
  }
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {  // xorshift64*
    state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
    return state * 2685821657736338717ull;
  };
  const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x04, 0x07, 0x08, 0x09, 0x0C,
                                 0x0D, 0x1F, 0x20, 0x7F, 0x80, 0xFE, 0xFF};
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> m = seeds[iter % seeds.size()];
    const int n_mut = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < n_mut; ++k) {
      size_t pos = next() % m.size();
      m[pos] =
          (next() & 1) ? interesting[next() % sizeof(interesting)] : static_cast<uint8_t>(next());
    }
    if (next() % 8 == 0) m.resize(next() % m.size());
    g_max_alloc = 0;
    auto r = File::from_memory(m);
    ASSERT_LE(g_max_alloc.load(), 64 * m.size() + 4096) << "iteration " << iter;
    if (!r.ok()) {
      ASSERT_EQ(r.error().message.rfind("gguf: ", 0), 0u) << r.error().message;
      continue;
    }
    ++accepted;
    for (const TensorInfo& t : (*r)->tensors()) {
      ASSERT_GE(t.data, m.data());
      ASSERT_LE(t.data + t.n_bytes, m.data() + m.size()) << t.name;
    }
  }
  EXPECT_LT(accepted, 3000);  // the mutations do reach the checks
}

TEST(Malformed, CutInsideAFixedFieldSaysTruncated) {
  const std::vector<uint8_t> v = small_valid_file();
  std::vector<uint8_t> cut(v.begin(), v.begin() + 6);  // inside the version
  auto r = File::from_memory(cut);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("truncated file: version at offset 4"), std::string::npos)
      << r.error().message;
}

TEST(Malformed, VocabOnlyFileWithNoTensorsIsValid) {
  ByteBuilder b = header(0, 1);
  b.str("tokenizer.ggml.model").u32(kString).str("gpt2");
  auto r = File::from_memory(b.bytes());  // ends unpadded, like real vocab files
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE((*r)->tensors().empty());
  EXPECT_EQ((*r)->get_string("tokenizer.ggml.model"), "gpt2");
}

TEST(Malformed, Version2IsReadable) {
  ByteBuilder b = header(1, 1, 2);
  b.str("general.alignment").u32(kU32).u32(8);
  tensor_info(b, "t", {2}, kF32, 0);
  auto v = with_data(std::move(b), 8, 8);
  auto r = File::from_memory(v);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->version(), 2u);
  EXPECT_EQ((*r)->alignment(), 8u);
}

TEST(Malformed, AdjacentTensorsDoNotOverlap) {
  ByteBuilder b = header(2, 0);
  tensor_info(b, "b", {8}, kF32, 32);  // out of order in the info table
  tensor_info(b, "a", {8}, kF32, 0);   // [0, 32) ends where b begins
  auto v = with_data(std::move(b), 64);
  auto r = File::from_memory(v);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST(Malformed, OptionLimitsAreEnforced) {
  ByteBuilder s = header(0, 1);
  s.str("k").u32(kString).str(std::string(100, 'x'));
  OpenOptions small;
  small.max_string_bytes = 99;
  expect_rejected(s.bytes(), "key 'k' value: string length 100 exceeds the limit of 99", small);

  ByteBuilder a = header(0, 1);
  a.str("k").u32(kArray).u32(kU8).u64(100);
  for (int i = 0; i < 100; ++i) a.u8(0);
  small.max_array_items = 50;
  expect_rejected(a.bytes(), "key 'k': array count 100 exceeds the limit of 50", small);

  ByteBuilder d = header(0, 1);
  d.str("d").u32(kArray).u32(kArray).u64(1).u32(kArray).u64(1).u32(kU8).u64(0);
  small.max_array_depth = 2;
  expect_rejected(d.bytes(), "key 'd': arrays nested deeper than 2 levels", small);
  EXPECT_TRUE(File::from_memory(d.bytes()).ok());  // the default depth allows it
}

// A header count that the bytes left could back (so the cheap check lets it
// through) but whose items are broken early: the parser must fail having spent
// memory on the items it parsed, not on the count. With a 1 MiB file, 131000
// strings or 43000 tensor infos would cost ~6 MB / ~4 MB if reserved up front.
TEST(Malformed, CountsThatFitTheFileButNotTheItemsStayUnder1MiB) {
  const size_t kFile = size_t{1} << 20;
  {
    ByteBuilder b = header(0, 1);
    b.str("tokenizer.ggml.tokens").u32(kArray).u32(kString).u64(131000).str("a");
    b.u64(~uint64_t{0});  // the second string's length: past the end
    std::vector<uint8_t> v = b.take();
    v.resize(kFile, 0);
    expect_rejected(v, "key 'tokenizer.ggml.tokens' item 1: string length 18446744073709551615");
  }
  {
    ByteBuilder b = header(43000, 0);
    tensor_info(b, "t", {}, kF32, 0);  // n_dims 0: the first info is already bad
    std::vector<uint8_t> v = b.take();
    v.resize(kFile, 0);
    expect_rejected(v, "tensor 't': n_dims 0 out of range");
  }
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Truncation at every 1 % of real-shaped model files (the tiny HF-generated
// models: real tensor names, metadata and tokenizer arrays): every cut is
// rejected with a gguf error, in under 10 ms, holding under 1 MiB.
TEST(Malformed, TruncationAtEveryPercentOfTinyModelsIsRejected) {
  for (const char* name : {"tiny-qwen2.f32.gguf", "tiny-llama.bf16.gguf"}) {
    const std::vector<uint8_t> full = read_all(std::string(FRUGAL_TEST_DATA) + "/models/" + name);
    ASSERT_GT(full.size(), 100000u) << name;
    ASSERT_TRUE(File::from_memory(full).ok()) << name;
    for (int pct = 0; pct < 100; ++pct) {
      const size_t n = full.size() * pct / 100;
      const std::vector<uint8_t> cut(full.begin(), full.begin() + n);  // own copy for ASan
      AllocWatch watch;
      auto r = File::from_memory(cut);
      ASSERT_FALSE(r.ok()) << name << " accepted when cut to " << pct << " %";
      EXPECT_EQ(r.error().message.rfind("gguf: ", 0), 0u) << r.error().message;
      EXPECT_LE(watch.peak_extra(), kOneMiB) << name << " cut to " << pct << " %";
      EXPECT_LT(best_parse_ms(cut), 10.0) << name << " cut to " << pct << " %";
    }
  }
}

// The same for files whose header is megabytes of vocabulary (the shared
// vocab files, and the real models when $FRUGAL_MODEL_CACHE has them): a cut
// inside the header can only be found by reading up to it, so the bound is
// relative: rejecting a cut file costs no more time and memory than opening
// the whole file (plus 10 ms / 1 MiB), i.e. nothing in proportion to a count.
TEST(Malformed, TruncationAtEveryPercentOfVocabAndModelFilesIsRejected) {
  std::vector<std::string> paths = {std::string(FRUGAL_SHARED_TESTDATA) +
                                    "/vocab/ggml-vocab-gpt-2.gguf"};
  if (const char* cache = std::getenv("FRUGAL_MODEL_CACHE")) {
    const std::string p = std::string(cache) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (std::ifstream(p).good()) paths.push_back(p);
  }
  for (const std::string& path : paths) {
    const std::vector<uint8_t> full = read_all(path);
    ASSERT_FALSE(full.empty()) << path;
    AllocWatch whole_watch;
    ASSERT_TRUE(File::from_memory(full).ok()) << path;
    const int64_t whole_peak = whole_watch.peak_extra();
    const double whole_ms = best_parse_ms(full);
    for (int pct = 1; pct < 100; ++pct) {
      // A prefix view: the parser is bounded by the span it is given.
      const std::span<const uint8_t> cut(full.data(), full.size() * pct / 100);
      // Up to three timed runs, the fastest counts: work per bogus count
      // shows in every run, a busy machine's preemption does not.
      double ms = 1e9;
      for (int run = 0; run < 3 && ms >= 2 * whole_ms + 10.0; ++run) {
        AllocWatch watch;
        const auto t0 = std::chrono::steady_clock::now();
        auto r = File::from_memory(cut);
        ms = std::min(
            ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count());
        ASSERT_FALSE(r.ok()) << path << " accepted when cut to " << pct << " %";
        EXPECT_EQ(r.error().message.rfind("gguf: ", 0), 0u) << r.error().message;
        EXPECT_LE(watch.peak_extra(), whole_peak + kOneMiB) << path << " cut to " << pct << " %";
      }
      EXPECT_LT(ms, 2 * whole_ms + 10.0) << path << " cut to " << pct << " %";
    }
  }
}

}  // namespace
}  // namespace frugal::gguf
