// One table per enumeration: every value with its canonical name (as configuration files, output
// attributes and messages spell it), in enumerator order. name(), parse<E>(), names<E>() and
// all_values<E>() read it, so a name is written once. An enumeration E gets its table with one
// function beside its definition, found by argument-dependent lookup:
//
//     [[nodiscard]] constexpr auto enum_table(DynamicsKind) noexcept {
//         return std::to_array<EnumEntry<DynamicsKind>>({{DynamicsKind::full, "full"},
//                                                        {DynamicsKind::gram, "gram"}});
//     }
//
// The table is checked at compile time wherever it is used (enum_detail::complete): entry i is
// enumerator i (values 0, 1, ... in declaration order), names are distinct and not empty, and no
// enumerator follows the last entry, so a value added to the enumeration but not to its table
// does not compile.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace plateau {

template <class E>
struct EnumEntry {
    E value;
    std::string_view name;
};

/// An enumeration with a table: enum_table(E) is declared beside it.
template <class E>
concept TabledEnum = std::is_enum_v<E> && requires(E e) {
    enum_table(e);
};

namespace enum_detail {

/// Whether V is a named enumerator of its type. The compiler writes the template argument into
/// the function's signature: a named value as `E::x`, any other value as a cast, `(E)2` (GCC and
/// Clang). The named form can start with a parenthesis too (Clang spells an anonymous namespace
/// `(anonymous namespace)::E::x`), so the test is the cast's end: `)` and then only digits.
template <auto V>
consteval bool is_named() {
    const std::string_view signature = __PRETTY_FUNCTION__;
    const std::size_t at = signature.find("V = ");
    if (at == std::string_view::npos)
        return false;
    const std::size_t end = signature.find_first_of("];", at);
    std::string_view value = signature.substr(
        at + 4, end == std::string_view::npos ? std::string_view::npos : end - at - 4);
    std::size_t digits = value.size();
    while (digits > 0 && value[digits - 1] >= '0' && value[digits - 1] <= '9')
        --digits;
    if (digits == value.size()) // no trailing digits: a name
        return !value.empty();
    if (digits > 0 && value[digits - 1] == '-')
        --digits;
    return digits > 0 && value[digits - 1] != ')'; // `(E)2`, `(E)-1` or a bare number: no name
}

/// The table's rules (see the top of this file).
template <TabledEnum E>
consteval bool complete() {
    constexpr auto table = enum_table(E{});
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (table[i].value != static_cast<E>(i) || table[i].name.empty())
            return false;
        for (std::size_t j = 0; j < i; ++j)
            if (table[j].name == table[i].name)
                return false;
    }
    return !is_named<static_cast<E>(table.size())>();
}

template <TabledEnum E>
constexpr auto checked_table() noexcept {
    static_assert(complete<E>(), "enum_table(E): one entry per enumerator, in order, with "
                                 "distinct names (engine/core/enum_table.hpp)");
    return enum_table(E{});
}

} // namespace enum_detail

/// Every value of E, in enumerator order.
template <TabledEnum E>
[[nodiscard]] constexpr auto all_values() noexcept {
    constexpr auto table = enum_detail::checked_table<E>();
    std::array<E, table.size()> out{};
    for (std::size_t i = 0; i < table.size(); ++i)
        out[i] = table[i].value;
    return out;
}

/// The canonical name of e.
template <TabledEnum E>
[[nodiscard]] constexpr std::string_view name(E e) noexcept {
    for (const auto& entry : enum_detail::checked_table<E>())
        if (entry.value == e)
            return entry.name;
    return "?"; // a value outside the enumeration (a cast of a bad number)
}

/// The value of E called `text` (its canonical name, exactly), or nullopt.
template <TabledEnum E>
[[nodiscard]] constexpr std::optional<E> parse(std::string_view text) noexcept {
    for (const auto& entry : enum_detail::checked_table<E>())
        if (entry.name == text)
            return entry.value;
    return std::nullopt;
}

/// The names of E's values, in order.
template <TabledEnum E>
[[nodiscard]] std::vector<std::string_view> name_list() {
    std::vector<std::string_view> out;
    for (const auto& entry : enum_detail::checked_table<E>())
        out.push_back(entry.name);
    return out;
}

/// "a, b, c": the names of E's values, for the `allowed is` part of a message.
template <TabledEnum E>
[[nodiscard]] std::string names(std::string_view separator = ", ") {
    std::string out;
    for (const auto& entry : enum_detail::checked_table<E>())
        out.append(out.empty() ? "" : separator).append(entry.name);
    return out;
}

} // namespace plateau
