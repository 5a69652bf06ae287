// SHA-256 (FIPS 180-4) of a text: fingerprints the resolved configuration in output files.
#pragma once

#include <string>
#include <string_view>

namespace plateau {

/// Lower-case hexadecimal SHA-256 digest of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

} // namespace plateau
