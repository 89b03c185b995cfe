// Model's default batched forward (model.h): sequences one at a time, for
// architectures that do not batch across sequences themselves.
#include "model/model.h"

namespace frugal::model {

Status Model::forward_batch(std::span<const SeqForward> seqs, ThreadPool& pool) const {
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i].cache == nullptr)
      return make_error("model: sequence {} of a batch has no cache", i);
    for (size_t j = 0; j < i; ++j)
      if (seqs[j].cache == seqs[i].cache)
        return make_error("model: sequences {} and {} share a cache", j, i);
  }
  for (const SeqForward& sf : seqs)
    FRUGAL_TRY(forward(sf.tokens, *sf.cache, sf.logits, false, pool));
  return {};
}

}  // namespace frugal::model
