#include "engine/io/run_checksum.hpp"

#include "engine/io/h5/h5.hpp"

#include <array>
#include <bit>
#include <sstream>

namespace plateau {

static_assert(std::endian::native == std::endian::little,
              "run_checksum sums the little-endian bytes the file stores");

namespace {

constexpr std::array<std::uint32_t, 256> crc_table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
        std::uint32_t c = n;
        for (int k = 0; k < 8; ++k)
            c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1U) : c >> 1U;
        t.at(n) = c;
    }
    return t;
}();

} // namespace

void Crc32::add(std::span<const std::byte> bytes) noexcept {
    std::uint32_t c = state_;
    for (const std::byte b : bytes)
        c = crc_table[(c ^ std::to_integer<std::uint32_t>(b)) & 0xFFU] ^ (c >> 8U);
    state_ = c;
}

std::int64_t Crc32::value() const noexcept {
    return static_cast<std::int64_t>(state_ ^ 0xFFFFFFFFU);
}

std::optional<RunChecksums> RunChecksums::of(const h5::Group& group) {
    if (!group.has("run_checksum"))
        return std::nullopt;
    h5::Dataset checksum = group.open_dataset("run_checksum");
    std::istringstream names(h5::get_string_attribute(checksum, run_checksum_covers).value_or(""));
    std::vector<Covered> covered;
    for (std::string name; names >> name;) {
        h5::Dataset d = group.open_dataset(name);
        const h5::ElementType type = d.element_type();
        std::vector<hsize_t> count = d.dims();
        if (count.empty() || (type != h5::ElementType::float64 && type != h5::ElementType::int8))
            throw h5::Error("run_checksum of '" + group.path() + "' covers '" + name +
                            "', which is not a per-run float64 or int8 variable");
        count[0] = 1;
        covered.push_back({std::move(d), type, std::move(count)});
    }
    if (covered.empty())
        throw h5::Error("run_checksum of '" + group.path() + "' covers no variable");
    return RunChecksums(std::move(checksum), std::move(covered));
}

bool RunChecksums::matches(hsize_t index) const {
    const std::array<hsize_t, 1> at{index};
    const std::array<hsize_t, 1> one{1};
    const std::int64_t stored = h5::read_slab<std::int64_t>(checksum_, at, one).at(0);
    Crc32 crc;
    for (const Covered& c : covered_) {
        std::vector<hsize_t> offset(c.count.size(), 0);
        offset[0] = index;
        if (c.type == h5::ElementType::int8) {
            const auto v = h5::read_slab<std::int8_t>(c.dataset, offset, c.count);
            crc.add(std::as_bytes(std::span(v)));
        } else {
            const auto v = h5::read_slab<double>(c.dataset, offset, c.count);
            crc.add(std::as_bytes(std::span(v)));
        }
    }
    return stored == crc.value();
}

} // namespace plateau
