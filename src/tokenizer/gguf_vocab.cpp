// Tokenizer::from_gguf: reads the `tokenizer.ggml.*` metadata into a Vocab,
// checking every type and length before use (the file is untrusted input).
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer {
namespace {

Result<const gguf::Array*> string_array(const gguf::File& f, const char* key, bool required) {
  const gguf::Value* v = f.find(key);
  if (!v) {
    if (required) return make_error("{}: missing", key);
    return static_cast<const gguf::Array*>(nullptr);
  }
  const gguf::Array* a = v->as_array();
  if (!a) return make_error("{}: expected an array, got {}", key, gguf::value_type_name(v->type));
  if (a->elem_type() != gguf::ValueType::STRING) {
    return make_error("{}: expected an array of strings, got an array of {}", key,
                      gguf::value_type_name(a->elem_type()));
  }
  return a;
}

Status read_strings(const gguf::Array& a, const char* key, std::vector<std::string>& out) {
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const std::optional<std::string_view> s = a.string_at(i);
    if (!s) return make_error("{}[{}]: not a string", key, i);
    out.emplace_back(*s);
  }
  return {};
}

Status read_id(const gguf::File& f, const char* key, int32_t n_tokens, int32_t& out) {
  const gguf::Value* v = f.find(key);
  if (!v) return {};
  const std::optional<int64_t> id = v->as_int();
  if (!id)
    return make_error("{}: expected an integer, got {}", key, gguf::value_type_name(v->type));
  // Some converters write -1 (as a signed type) for "none".
  if (*id == -1) return {};
  if (*id < 0 || *id >= n_tokens) {
    return make_error("{}: {} out of range [0, {})", key, *id, n_tokens);
  }
  out = static_cast<int32_t>(*id);
  return {};
}

Status read_bool(const gguf::File& f, const char* key, bool& out) {
  const gguf::Value* v = f.find(key);
  if (!v) return {};
  const std::optional<bool> b = v->as_bool();
  if (!b) return make_error("{}: expected a bool, got {}", key, gguf::value_type_name(v->type));
  out = *b;
  return {};
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::File& f) {
  Vocab v;
  const gguf::Value* model = f.find("tokenizer.ggml.model");
  if (!model) return make_error("tokenizer.ggml.model: missing");
  if (!model->as_string()) {
    return make_error("tokenizer.ggml.model: expected a string, got {}",
                      gguf::value_type_name(model->type));
  }
  v.model = *model->as_string();
  if (v.model != "gpt2") {
    return make_error("tokenizer.ggml.model: unsupported model '{}' (only 'gpt2' byte-level BPE)",
                      v.model);
  }
  if (const gguf::Value* pre = f.find("tokenizer.ggml.pre")) {
    if (!pre->as_string()) {
      return make_error("tokenizer.ggml.pre: expected a string, got {}",
                        gguf::value_type_name(pre->type));
    }
    v.pre = *pre->as_string();
  }
  FRUGAL_ASSIGN_OR_RETURN(const gguf::Array* tokens,
                          string_array(f, "tokenizer.ggml.tokens", /*required=*/true));
  FRUGAL_TRY(read_strings(*tokens, "tokenizer.ggml.tokens", v.tokens));
  if (v.tokens.size() > static_cast<size_t>(INT32_MAX)) {
    return make_error("tokenizer.ggml.tokens: {} entries is too many", v.tokens.size());
  }
  const int32_t n = static_cast<int32_t>(v.tokens.size());

  if (const gguf::Value* tv = f.find("tokenizer.ggml.token_type")) {
    const gguf::Array* a = tv->as_array();
    if (!a) {
      return make_error("tokenizer.ggml.token_type: expected an array, got {}",
                        gguf::value_type_name(tv->type));
    }
    if (a->size() != v.tokens.size()) {
      return make_error("tokenizer.ggml.token_type: length {} != tokenizer.ggml.tokens length {}",
                        a->size(), v.tokens.size());
    }
    v.types.reserve(a->size());
    for (size_t i = 0; i < a->size(); ++i) {
      const gguf::Value item = a->at(i);
      const std::optional<int64_t> t = item.as_int();
      if (!t || *t < 0 || *t > 6) {
        return make_error("tokenizer.ggml.token_type[{}]: bad value (type {})", i,
                          gguf::value_type_name(item.type));
      }
      v.types.push_back(static_cast<TokenType>(*t));
    }
  }
  FRUGAL_ASSIGN_OR_RETURN(const gguf::Array* merges,
                          string_array(f, "tokenizer.ggml.merges", /*required=*/false));
  if (merges) FRUGAL_TRY(read_strings(*merges, "tokenizer.ggml.merges", v.merges));

  FRUGAL_TRY(read_id(f, "tokenizer.ggml.bos_token_id", n, v.bos));
  FRUGAL_TRY(read_id(f, "tokenizer.ggml.eos_token_id", n, v.eos));
  FRUGAL_TRY(read_id(f, "tokenizer.ggml.eot_token_id", n, v.eot));
  FRUGAL_TRY(read_id(f, "tokenizer.ggml.eom_token_id", n, v.eom));
  FRUGAL_TRY(read_id(f, "tokenizer.ggml.padding_token_id", n, v.pad));
  FRUGAL_TRY(read_id(f, "tokenizer.ggml.unknown_token_id", n, v.unk));
  FRUGAL_TRY(read_bool(f, "tokenizer.ggml.add_bos_token", v.add_bos));
  FRUGAL_TRY(read_bool(f, "tokenizer.ggml.add_eos_token", v.add_eos));
  return from_vocab(std::move(v));
}

}  // namespace frugal::tokenizer
