// A zero-filled buffer whose pages are committed on first write.
//
// Why: a KV cache is sized for the whole context (and the server keeps one
// per slot), but a conversation fills only what it uses. std::vector's
// value-initialization writes every page up front, so an 8k-token cache
// costs its full size in RSS from the start. Anonymous private mappings read
// as zeros and take memory page by page as positions are written, so RSS
// follows the context actually in use.
#pragma once

#include <cstddef>

namespace frugal {

class ZeroedPages {
 public:
  ZeroedPages() = default;
  // `bytes` of zeros; empty (data() == nullptr) when bytes is 0 or the
  // mapping fails (the caller checks data() against its size).
  explicit ZeroedPages(size_t bytes);
  ~ZeroedPages();
  ZeroedPages(ZeroedPages&& o) noexcept;
  ZeroedPages& operator=(ZeroedPages&& o) noexcept;
  ZeroedPages(const ZeroedPages&) = delete;
  ZeroedPages& operator=(const ZeroedPages&) = delete;

  // Asks the kernel for transparent huge pages (2 MiB) where it grants them
  // on request (THP "madvise" mode): for buffers written whole and read
  // often, fewer page faults and TLB misses. A hint; failure changes nothing.
  void prefer_huge_pages() const;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace frugal
