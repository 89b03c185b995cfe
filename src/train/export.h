// A trained policy back to GGUF, the format frugal runs: the source file's
// metadata (architecture hyperparameters, tokenizer, chat template) with
// every weight the policy trains replaced by its current values.
//
// The image is what rollouts hand to runtime::Engine in memory
// (EngineOptions::model_image), and, written to disk, the model the pipeline
// ships (then quantized, e.g. to Q8_0 or Q4_K).
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "train/policy.h"

namespace frugal::train {

struct ExportOptions {
  // Type of the 2-D weights whose rows are a whole number of blocks of it;
  // 1-D weights (norms, biases) and the rest stay F32.
  gguf::GgmlType matrix_type = gguf::GgmlType::F32;
};

// `source` is the file the policy was built from (Policy::from_gguf); its
// tensors that the policy does not train (e.g. rope_freqs) are copied as they
// are. Tensors keep the source's order and names.
Result<std::vector<uint8_t>> export_gguf(const Policy& policy, const gguf::File& source,
                                         const ExportOptions& opt = {});

}  // namespace frugal::train
