// CRC32C (Castagnoli, RFC 3720 §B.4), the checksum of the state-dir files.
#pragma once

#include <cstdint>

#include "core/wire.h"

namespace xfr {

// CRC32C (Castagnoli, as iSCSI and ext4 use), hardware-assisted on x86-64
// with SSE4.2. `crc` chains calls: Crc32c(b, Crc32c(a)) == Crc32c(a + b).
uint32_t Crc32c(Bytes data, uint32_t crc = 0);

}  // namespace xfr
