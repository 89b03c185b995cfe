#include "train/export.h"

#include <cstring>

#include "gguf/gguf_writer.h"
#include "tensor/quant.h"

namespace frugal::train {
namespace {

// Bytes of `w` ([n] or [out, in], float32 on the CPU) as `type`, row by row.
Result<std::vector<uint8_t>> encode(const torch::Tensor& w, gguf::GgmlType type) {
  const torch::Tensor x = w.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t n_in = x.dim() == 1 ? x.size(0) : x.size(-1);
  const int64_t rows = x.numel() / n_in;
  const gguf::TypeTraits tr = *gguf::type_traits(type);  // a type can_quantize() knows
  const uint64_t row_bytes = static_cast<uint64_t>(n_in / tr.block_size) * tr.type_size;
  std::vector<uint8_t> out(static_cast<size_t>(row_bytes * static_cast<uint64_t>(rows)));
  const float* src = x.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r) {
    FRUGAL_TRY(tensor::quantize_row(type, src + r * n_in, out.data() + r * row_bytes, n_in));
  }
  return out;
}

}  // namespace

Result<std::vector<uint8_t>> export_gguf(const Policy& policy, const gguf::File& source,
                                         const ExportOptions& opt) {
  if (!tensor::can_quantize(opt.matrix_type))
    return make_error("export: cannot write weights as {}", gguf::type_name(opt.matrix_type));
  gguf::Writer w(source.alignment());
  for (const auto& [key, value] : source.metadata()) {
    if (key == "general.alignment") continue;  // the writer sets its own
    w.set(key, value);
  }
  const auto& weights = policy.weights();
  for (const gguf::TensorInfo& t : source.tensors()) {
    const auto it = weights.find(t.name);
    if (it == weights.end()) {
      FRUGAL_TRY(w.add_tensor(t.name, t.type, t.shape, std::span(t.data, t.n_bytes)));
      continue;
    }
    const torch::Tensor& x = it->second;
    // GGUF lists dims fastest first: [in, out] for a torch [out, in].
    std::vector<uint64_t> shape;
    for (int64_t d = x.dim() - 1; d >= 0; --d) shape.push_back(static_cast<uint64_t>(x.size(d)));
    if (shape != t.shape)
      return make_error("export: policy weight '{}' has another shape than the source's", t.name);
    gguf::GgmlType type = gguf::GgmlType::F32;
    if (x.dim() == 2 && shape[0] % gguf::type_traits(opt.matrix_type)->block_size == 0)
      type = opt.matrix_type;
    FRUGAL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, encode(x, type));
    FRUGAL_TRY(w.add_tensor(t.name, type, shape, bytes));
  }
  return w.to_bytes();
}

}  // namespace frugal::train
