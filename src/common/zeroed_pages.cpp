#include "common/zeroed_pages.h"

#include <sys/mman.h>

#include <utility>

namespace frugal {

ZeroedPages::ZeroedPages(size_t bytes) {
  if (bytes == 0) return;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  data_ = p;
  size_ = bytes;
}

ZeroedPages::~ZeroedPages() {
  release();
}

void ZeroedPages::prefer_huge_pages() const {
#ifdef MADV_HUGEPAGE
  if (data_) madvise(data_, size_, MADV_HUGEPAGE);
#endif
}

ZeroedPages::ZeroedPages(ZeroedPages&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

ZeroedPages& ZeroedPages::operator=(ZeroedPages&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void ZeroedPages::release() {
  if (data_) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace frugal
