// One table per enumeration (engine/core/enum_table.hpp): every value has one distinct name that
// parses back to it, the list is the table's, and a table that misses a value does not compile.
#include "engine/core/enum_table.hpp"
#include "engine/core/run_params.hpp"
#include "engine/io/h5/object.hpp"
#include "engine/io/variables.hpp"
#include "engine/run/outcome.hpp"
#include "engine/run/run.hpp"
#include "engine/run/specialization.hpp"
#include "engine/theory/fixed_point.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <type_traits>

using namespace plateau;

namespace {

enum class Complete { a, b, c };
[[nodiscard]] constexpr auto enum_table(Complete) noexcept {
    return std::to_array<EnumEntry<Complete>>(
        {{Complete::a, "a"}, {Complete::b, "b"}, {Complete::c, "c"}});
}
// Each of these breaks one rule: a value left out, two names alike, entries out of order.
enum class MissesOne { a, b, c };
[[nodiscard]] constexpr auto enum_table(MissesOne) noexcept {
    return std::to_array<EnumEntry<MissesOne>>({{MissesOne::a, "a"}, {MissesOne::b, "b"}});
}
enum class SameName { a, b };
[[nodiscard]] constexpr auto enum_table(SameName) noexcept {
    return std::to_array<EnumEntry<SameName>>({{SameName::a, "a"}, {SameName::b, "a"}});
}
enum class OutOfOrder { a, b };
[[nodiscard]] constexpr auto enum_table(OutOfOrder) noexcept {
    return std::to_array<EnumEntry<OutOfOrder>>({{OutOfOrder::b, "b"}, {OutOfOrder::a, "a"}});
}

static_assert(enum_detail::complete<Complete>());
static_assert(!enum_detail::complete<MissesOne>());
static_assert(!enum_detail::complete<SameName>());
static_assert(!enum_detail::complete<OutOfOrder>());
static_assert(enum_detail::is_named<DynamicsKind::gram>());
static_assert(!enum_detail::is_named<static_cast<DynamicsKind>(2)>());
// The spellings is_named reads (GCC and Clang): an enumerator whose name ends in digits, one in
// an anonymous namespace (Clang writes "(anonymous namespace)::E::x"), a negative cast.
enum class Digits { x2, y10 };
static_assert(enum_detail::is_named<Digits::x2>() && enum_detail::is_named<Digits::y10>());
static_assert(enum_detail::is_named<Complete::c>());
static_assert(!enum_detail::is_named<static_cast<Complete>(3)>());
static_assert(!enum_detail::is_named<static_cast<Complete>(-1)>());

} // namespace

TEMPLATE_TEST_CASE("every value of a tabled enumeration has one name that parses back",
                   "[enum_table]", TeacherInit, TeacherUpper, ScheduleKind, InitSeed, AlphaMaxScale,
                   DynamicsKind, Sampling, InputKind, RunStatus, RunOutcome, UnitState,
                   FixedPointKind, FileKind, Dim, h5::ElementType) {
    using E = TestType;
    std::set<std::string_view> seen;
    std::string list;
    const auto values = all_values<E>();
    for (std::size_t i = 0; i < values.size(); ++i) {
        const E e = values[i];
        CHECK(static_cast<std::size_t>(e) == i);
        const std::string_view n = name(e);
        CHECK(!n.empty());
        CHECK(n != "?");
        CHECK(seen.insert(n).second); // distinct
        REQUIRE(parse<E>(n).has_value());
        CHECK(*parse<E>(n) == e);
        list += (list.empty() ? "" : ", ") + std::string(n);
    }
    CHECK(names<E>() == list);
    CHECK(name_list<E>().size() == values.size());
    // A number past the last enumerator is no value: it has no name, and "" or a name with a
    // trailing space parses to nothing.
    CHECK(name(static_cast<E>(values.size())) == "?");
    CHECK_FALSE(parse<E>("").has_value());
    CHECK_FALSE(parse<E>(std::string(name(values.back())) + " ").has_value());
}

TEST_CASE("enum tables: the names files and configurations use", "[enum_table]") {
    // Each former hand-written name() named its second value for anything but its first: a
    // third value would have been misnamed. The table names each value, and nothing else.
    CHECK(name(DynamicsKind::full) == "full");
    CHECK(name(DynamicsKind::gram) == "gram");
    CHECK(name(static_cast<DynamicsKind>(2)) == "?");
    CHECK(name(AlphaMaxScale::inverse_eta) == "inverse-eta");
    CHECK(parse<AlphaMaxScale>("inverse_eta") == std::nullopt);
    CHECK(name(FixedPointKind::partially) == "partially specialized");
    CHECK(name(Dim::student_layers) == "student_deep");
    CHECK(names<FileKind>(" or ") == "simulation or theory");
    CHECK(names<RunOutcome>() == "pending, learned, plateau, failed, diverged, searching, escaped");
    CHECK(names<Complete>() == "a, b, c");
}
