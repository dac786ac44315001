#pragma once
// Memory helpers for large, touched-once buffers.
#include <cstddef>

namespace orbit {

// Asks the kernel to back the 2 MiB-aligned interior of [p, p + bytes) with
// transparent huge pages. Call it before the memory is first written: each
// fresh 4 KiB page costs a fault (microseconds on virtual machines), a huge
// page one fault per 2 MiB. A no-op where the system does not offer it.
void advise_huge_pages(void* p, std::size_t bytes);

}  // namespace orbit
