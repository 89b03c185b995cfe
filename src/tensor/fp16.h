// IEEE half and bfloat16 conversions (bit-exact, round-to-nearest-even on the
// way down, like the hardware instructions and numpy).
#pragma once

#include <cstdint>
#include <cstring>

namespace frugal::tensor {

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);

inline float bf16_to_fp32(uint16_t h) {
  uint32_t u = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t fp32_to_bf16(float f);

}  // namespace frugal::tensor
